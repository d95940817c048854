"""Plain names for the group and team codes the diagrams and the case register use, as
PATHWAYS.md and its glossary name them. A code without a name here is shown as it is."""
from __future__ import annotations

GROUP_LABELS: dict[str, str] = {
    # North East Lincolnshire
    "nel-ifd": "Integrated Front Door",
    "nel-ai-atm": "A&I assistant team managers",
    "nel-ai-tm": "A&I team managers",
    "nel-ai-sw": "A&I social workers",
    "nel-police-ddm": "Police designated decision makers",
    "nel-cp-iro": "CP & Planning duty IROs",
    "nel-court-cp-tm": "Court & CP team managers",
    "nel-court-cp-sw": "Court & CP social workers",
    # Durham One Point
    "durham-first-contact": "First Contact",
    "durham-ehtw": "Early help triage workers",
    "durham-sehtw": "Senior early help triage workers",
    "durham-ifst-tm": "IFST team managers",
    "durham-ifst-kw": "IFST key workers",
    "durham-fh-tm": "Family Hub managers",
    "durham-fh-ehp": "Family Hub early help practitioners",
    "durham-ops-manager": "Operations managers",
    "durham-strategic-manager": "Strategic managers",
    # Child in Need team pathway
    "cin-tm": "CIN team managers",
    "cin-sw": "CIN social workers",
    "irt": "Integrated Referral Team",
    "sgcp-tm": "SGCP team managers",
    "nel-early-help": "Early Help (North East Lincolnshire)",
    # Halton
    "halton-icart": "iCART",
    "halton-dat-sw": "DAT social workers",
    "halton-dat-pl": "DAT practice leads",
    "halton-pm": "Principal managers",
    "halton-senior-managers": "Senior managers",
    "halton-cin-tm": "CIN team managers",
    "halton-cic-tm": "Child in care team managers",
    "halton-early-help": "Early Help",
    # Blackpool
    "blackpool-hub": "Request for Support Hub",
    "blackpool-hub-tm": "Hub duty team managers",
    "blackpool-ast-tm": "AST team managers",
    "blackpool-ast-sw": "AST social workers",
    "blackpool-ssf-tm": "SSF team managers",
    "blackpool-soc-tm": "SOC team managers",
    "blackpool-sccn-tm": "SCCN team managers",
    "blackpool-tis": "Targeted Intervention Services",
    "blackpool-service-manager": "Service managers",
    "blackpool-head-of-service": "Heads of service",
}

TEAM_LABELS: dict[str, str] = {
    "ast": "Assessment and Support Team",
    "ssf": "Strengthening and Supporting Families",
    "soc": "Supporting Our Children",
    "sccn": "Supporting Children with Complex Needs",
    "tis": "Targeted Intervention Services",
    "awaken": "Awaken",
    "dat": "Duty and Assessment Team",
    "cin": "Child in Need team",
    "cic": "Child in Care team",
    "sgcp": "Safeguarding and Court Proceedings team",
    "early-help": "Early Help",
    "irt": "Integrated Referral Team",
}


def group_label(code: str) -> str:
    return GROUP_LABELS.get(code, code)


def team_label(code: str | None) -> str:
    return TEAM_LABELS.get(code, code) if code else "No team recorded"


def teams_label(codes: list[str]) -> str:
    return ", ".join(team_label(c) for c in codes) if codes else team_label(None)
