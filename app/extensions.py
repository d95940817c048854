"""Flask extensions, created unbound and attached in the app factory."""
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


# One transaction per request: what it committed is still what the response shows, so
# objects need not be reloaded after the commit.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
