"""Demo teams and users for every pathway in PATHWAYS.md, and a few sample referrals."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from flask import Flask

from .extensions import db
from .models import ProcessDefinition, ProcessInstance, User

# (user id, display name, groups, roles, team)
DEMO_USERS: list[tuple[str, str, list[str], list[str], str | None]] = [
    ("admin", "Administrator", [], ["admin"], None),
    ("process.owner", "Process owner", [], ["process-owner", "staff"], None),
    ("front.door", "Front door case system", [], ["integrator"], None),
    # North East Lincolnshire: Integrated Front Door and Assessment and Intervention.
    ("nel.ifd.atm", "IFD Assistant Team Manager", ["nel-ifd"], ["staff", "manager"], "nel-ifd"),
    ("nel.ai.atm", "A&I Assistant Team Manager", ["nel-ai-atm"], ["staff", "manager"], "nel-ai"),
    ("nel.ai.tm", "A&I Team Manager", ["nel-ai-tm"], ["staff", "manager"], "nel-ai"),
    ("nel.ai.sw1", "A&I Social Worker (Sam)", ["nel-ai-sw"], ["staff"], "nel-ai"),
    ("nel.ai.sw2", "A&I Social Worker (Priya)", ["nel-ai-sw"], ["staff"], "nel-ai"),
    ("nel.police.ddm", "IFD Police DDM", ["nel-police-ddm"], ["staff"], "nel-ifd"),
    ("nel.cp.iro", "CP & Planning duty IRO", ["nel-cp-iro"], ["staff"], "nel-cp"),
    ("nel.court.tm", "Court & CP Team Manager", ["nel-court-cp-tm"], ["staff", "manager"], "nel-court-cp"),
    ("nel.court.sw", "Court & CP Social Worker", ["nel-court-cp-sw"], ["staff"], "nel-court-cp"),
    # Durham One Point.
    ("durham.first.contact", "First Contact", ["durham-first-contact"], ["staff"], "durham-one-point"),
    ("durham.ehtw", "Early Help Triage Worker", ["durham-ehtw"], ["staff"], "durham-one-point"),
    ("durham.sehtw", "Senior Early Help Triage Worker", ["durham-sehtw"], ["staff", "manager"], "durham-one-point"),
    ("durham.ifst.tm", "IFST Team Manager", ["durham-ifst-tm"], ["staff", "manager"], "durham-ifst"),
    ("durham.ifst.kw", "IFST Key Worker", ["durham-ifst-kw"], ["staff"], "durham-ifst"),
    ("durham.fh.tm", "Family Hub Manager", ["durham-fh-tm"], ["staff", "manager"], "durham-fh"),
    ("durham.fh.ehp", "Family Hub Early Help Practitioner", ["durham-fh-ehp"], ["staff"], "durham-fh"),
    ("durham.ops", "Operations Manager", ["durham-ops-manager"], ["staff", "manager"], "durham-one-point"),
    ("durham.strategic", "Strategic Manager", ["durham-strategic-manager"], ["staff", "manager"], "durham-one-point"),
    # CIN team pilot.
    ("cin.tm", "CIN Team Manager", ["cin-tm"], ["staff", "manager"], "cin"),
    ("cin.sw", "CIN Social Worker", ["cin-sw"], ["staff"], "cin"),
    ("cin.irt", "Initial Response Team", ["irt"], ["staff"], "irt"),
    ("cin.sgcp.tm", "SGCP Team Manager", ["sgcp-tm"], ["staff", "manager"], "sgcp"),
    ("nel.early.help", "Early Help", ["nel-early-help"], ["staff", "manager"], "nel-early-help"),
    # Blackpool.
    ("blackpool.hub", "Request for Support Hub", ["blackpool-hub"], ["staff"], "blackpool-hub"),
    ("blackpool.hub.tm", "Hub Duty Team Manager", ["blackpool-hub-tm"], ["staff", "manager"], "blackpool-hub"),
    ("blackpool.ast.tm", "AST Team Manager", ["blackpool-ast-tm"], ["staff", "manager"], "blackpool-ast"),
    ("blackpool.ast.sw", "AST Social Worker", ["blackpool-ast-sw"], ["staff"], "blackpool-ast"),
    ("blackpool.ssf.tm", "SSF Team Manager", ["blackpool-ssf-tm"], ["staff", "manager"], "blackpool-ssf"),
    ("blackpool.soc.tm", "SOC Team Manager", ["blackpool-soc-tm"], ["staff", "manager"], "blackpool-soc"),
    ("blackpool.sccn.tm", "SCCN Team Manager", ["blackpool-sccn-tm"], ["staff", "manager"], "blackpool-sccn"),
    ("blackpool.tis", "Targeted Intervention Services", ["blackpool-tis"], ["staff", "manager"], "blackpool-tis"),
    ("blackpool.service.manager", "Service Manager", ["blackpool-service-manager"], ["staff", "manager"],
     "blackpool"),
    ("blackpool.head.of.service", "Head of Service", ["blackpool-head-of-service"], ["staff", "manager"],
     "blackpool"),
    # Halton.
    ("halton.icart", "iCART", ["halton-icart"], ["staff"], "halton-icart"),
    ("halton.dat.sw", "DAT Social Worker", ["halton-dat-sw"], ["staff"], "halton-dat"),
    ("halton.dat.pl", "DAT Practice Lead", ["halton-dat-pl"], ["staff", "manager"], "halton-dat"),
    ("halton.pm", "Principal Manager", ["halton-pm"], ["staff", "manager"], "halton-dat"),
    ("halton.senior.manager", "Senior Manager", ["halton-senior-managers"], ["staff", "manager"], "halton"),
    ("halton.cin.tm", "CIN Team Manager", ["halton-cin-tm"], ["staff", "manager"], "halton-cin"),
    ("halton.cic.tm", "Child in Care Team Manager", ["halton-cic-tm"], ["staff", "manager"], "halton-cic"),
    ("halton.early.help", "Early Help", ["halton-early-help"], ["staff"], "halton-early-help"),
]

# The case register's team codes each demo user works in: a user sees the children these
# teams hold or held (app/access.py). Councils run a Pathways each, so codes are per council;
# the demo hosts four councils at once, and Halton's and North East Lincolnshire's CIN teams
# share the code `cin` (their Early Help teams `early-help`).
_BLACKPOOL_TEAMS = ["ast", "ssf", "soc", "sccn", "tis"]
DEMO_REGISTER_TEAMS: dict[str, list[str]] = {
    "blackpool.ast.tm": ["ast"], "blackpool.ast.sw": ["ast"], "blackpool.ssf.tm": ["ssf"],
    "blackpool.soc.tm": ["soc"], "blackpool.sccn.tm": ["sccn"], "blackpool.tis": ["tis"],
    "blackpool.service.manager": _BLACKPOOL_TEAMS, "blackpool.head.of.service": _BLACKPOOL_TEAMS,
    "halton.dat.sw": ["dat"], "halton.dat.pl": ["dat"], "halton.pm": ["dat", "cin", "cic"],
    "halton.senior.manager": ["dat", "cin", "cic", "early-help"],
    "halton.cin.tm": ["cin"], "halton.cic.tm": ["cic"], "halton.early.help": ["early-help"],
    "cin.tm": ["cin"], "cin.sw": ["cin"], "cin.sgcp.tm": ["sgcp"], "nel.early.help": ["early-help"],
}

SAMPLE_REFERRALS = [
    ("REF-1001", {"childId": "C-1001", "referralId": "REF-1001", "strategyDiscussionRecommended": False}),
    ("REF-1002", {"childId": "C-1002", "referralId": "REF-1002", "strategyDiscussionRecommended": False}),
    ("REF-1003", {"childId": "C-1003", "referralId": "REF-1003", "strategyDiscussionRecommended": False}),
]


def sample_referrals(app: Flask) -> list[str]:
    """Start a few Section 17 referrals, once; return what was done, for the console."""
    from .services import instances

    if db.session.execute(sa.select(ProcessDefinition.id).where(ProcessDefinition.key == "nel_section17")).first() is None:
        return ["No sample referrals: nel_section17 is not deployed (run 'pathways deploy')."]
    front_door = db.session.get(User, "front.door")
    engine = app.extensions["pathways.engine"]
    rota = app.extensions["pathways.duty_rotas"].get("nel_section17")
    lines = []
    for offset, (business_key, variables) in enumerate(SAMPLE_REFERRALS):
        exists = db.session.execute(
            sa.select(ProcessInstance.id).where(ProcessInstance.business_key == business_key)
        ).first()
        if exists:
            continue
        received = datetime.now(timezone.utc) - timedelta(hours=offset)
        instance = instances.start(engine, front_door, "nel_section17", business_key,
                                   {**variables, "referralReceivedAt": received.isoformat()}, rota)
        lines.append(f"Started sample referral {business_key} (nel_section17, instance {instance.id}).")
    return lines
