// GOV.UK Frontend's components (header menu, error summary focus, and so on).
import { initAll } from '/assets/govuk-frontend.min.js'
initAll()
