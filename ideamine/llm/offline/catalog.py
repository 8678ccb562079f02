"""Domain knowledge of the offline model, as data: signals, regimes, controls, components, entities.

Kept apart from the code that uses it so that adding a domain (say, payments) is a data
change. Every table is keyed by a stable name the generators and tests refer to.
"""

from __future__ import annotations

import re

__all__ = [
    "SIGNALS",
    "COMPLIANCE_PATTERNS",
    "REGIMES",
    "CONTROL_FAMILIES",
    "STRIDE_FAMILIES",
    "COMPONENTS",
    "ENTITIES",
    "ACTOR_WORDS",
    "SYSTEM_WORDS",
    "COMPETITORS",
    "STATUS_QUO",
    "status_quo",
]

#: domain signal → words whose presence in the idea raises it
SIGNALS: dict[str, frozenset[str]] = {
    name: frozenset(ws.split())
    for name, ws in {
        "health": "health medical clinical clinician patient hospital radiology radiologist imaging diagnosis dicom "
        "ehr phi scan care x-ray mri",
        "payments": "payment checkout card billing invoice wallet bank banking transaction pci",
        "eu": "eu europe european gdpr",
        "iot": "iot sensor device firmware mqtt telemetry",
        "realtime": "live real-time realtime streaming instant",
        "alerts": "alert notification threshold reminder notify",
        "ml": "ml machine learning ai inference prediction neural confidence heatmap",
        "multitenant": "multi-tenant tenant institution organisation organization",
        "offline": "offline connectivity",
        "mobile": "mobile mobile-first phone ios android swipe tap",
        "consumer": "personal family household kid friend consumer student busy",
        "collaboration": "share sharing collaborate collaboration team comment",
        "history": "history historical trend archive searchable reporting analytics prior",
        "integration": "integration api webhook fhir hl7 pac ehr import export",
        "scheduling": "due schedule calendar deadline booking appointment reschedule",
    }.items()
}

#: canonical regime → pattern over the raw idea text (or a constraint string)
COMPLIANCE_PATTERNS: dict[str, re.Pattern[str]] = {
    "HIPAA": re.compile(r"\bhipaa\b|\bphi\b|patient health information|protected health", re.I),
    "GDPR": re.compile(r"\bgdpr\b|\bthe eu\b|\beuropean union\b", re.I),
    "SOC 2 Type II": re.compile(r"\bsoc ?2\b", re.I),
    "ISO 27001": re.compile(r"\biso[ /-]?(iec )?27001\b", re.I),
    "PCI DSS": re.compile(r"\bpci\b|credit card", re.I),
    "FDA 510(k)": re.compile(r"510\s*\(k\)|\bfda\b", re.I),
    "COPPA": re.compile(r"\bcoppa\b|\bchildren under 13\b", re.I),
    "CCPA": re.compile(r"\bccpa\b|\bcalifornia\b", re.I),
}

#: regime → (requirement, control families that satisfy it)
REGIMES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "HIPAA": (
        ("164.312(a)(1) access control to ePHI", ("access-control", "authentication")),
        ("164.312(b) audit controls", ("audit-logging",)),
        ("164.312(e)(1) transmission security", ("encryption-in-transit",)),
        ("164.312(a)(2)(iv) encryption of ePHI at rest", ("encryption-at-rest",)),
        ("164.308(a)(7) contingency plan", ("backup-recovery",)),
    ),
    "GDPR": (
        ("Art. 32 security of processing", ("encryption-at-rest", "access-control")),
        ("Art. 25 data protection by design and by default", ("data-minimisation",)),
        ("Art. 7 conditions for consent", ("consent-management",)),
        ("Art. 33 breach notification within 72 hours", ("incident-response",)),
    ),
    "SOC 2 Type II": (
        ("CC6.1 logical access security", ("access-control", "authentication")),
        ("CC7.2 system monitoring", ("monitoring",)),
        ("CC8.1 change management", ("change-management",)),
        ("A1.2 backup and recovery", ("backup-recovery",)),
    ),
    "ISO 27001": (
        ("A.5.15 access control", ("access-control",)),
        ("A.8.15 logging", ("audit-logging",)),
        ("A.8.24 use of cryptography", ("encryption-at-rest", "encryption-in-transit")),
        ("A.8.8 management of technical vulnerabilities", ("vulnerability-management",)),
        ("A.5.30 ICT readiness for business continuity", ("backup-recovery",)),
    ),
    "PCI DSS": (
        ("Req. 3 protect stored account data", ("encryption-at-rest",)),
        ("Req. 4 encrypt cardholder data in transit", ("encryption-in-transit",)),
        ("Req. 6 develop secure systems and software", ("secure-sdlc",)),
        ("Req. 10 log and monitor all access", ("audit-logging",)),
    ),
    "FDA 510(k)": (
        ("Premarket cybersecurity: SBOM and vulnerability management", ("vulnerability-management",)),
        ("IEC 62304 software life cycle and change control", ("change-management", "secure-sdlc")),
        ("Traceability of the model version behind every result", ("model-governance",)),
    ),
    "COPPA": (
        ("Verifiable parental consent", ("consent-management",)),
        ("Minimal collection of children's data", ("data-minimisation",)),
    ),
    "CCPA": (
        ("Right to know and to delete", ("data-minimisation",)),
        ("Opt-out of sale or sharing", ("consent-management",)),
    ),
}

#: family → (title, kind, description); the order is the order controls are numbered in
CONTROL_FAMILIES: dict[str, tuple[str, str, str]] = {
    "authentication": (
        "Strong authentication",
        "preventive",
        "OIDC sign-in with MFA for privileged roles; short-lived tokens; credential stuffing protection.",
    ),
    "access-control": (
        "Role-based access control",
        "preventive",
        "Deny-by-default RBAC enforced in the API layer; every query scoped to the caller's permissions.",
    ),
    "audit-logging": (
        "Tamper-evident audit log",
        "detective",
        "Append-only, hash-chained log of sign-ins, record access and admin actions; retained and reviewed.",
    ),
    "encryption-in-transit": (
        "TLS everywhere",
        "preventive",
        "TLS 1.2+ on every external and internal hop; HSTS; certificate rotation automated.",
    ),
    "encryption-at-rest": (
        "Encryption at rest",
        "preventive",
        "AES-256 encryption of databases, object storage and backups with KMS-managed keys.",
    ),
    "input-validation": (
        "Input validation and output encoding",
        "preventive",
        "Schema validation of every request, size limits, parameterised queries, safe file parsing.",
    ),
    "rate-limiting": (
        "Rate limiting and quotas",
        "preventive",
        "Per-client and per-tenant rate limits at the gateway; back-pressure on ingestion paths.",
    ),
    "secrets-management": (
        "Managed secrets",
        "preventive",
        "Secrets in a vault, injected at runtime, rotated on a schedule, never in code or images.",
    ),
    "tenant-isolation": (
        "Tenant isolation",
        "preventive",
        "Tenant id on every row and cache key, row-level security, isolation tests in CI.",
    ),
    "backup-recovery": (
        "Backups and tested restore",
        "corrective",
        "Point-in-time backups, cross-region copies, quarterly restore drills against RTO/RPO.",
    ),
    "vulnerability-management": (
        "Vulnerability management",
        "detective",
        "Dependency and image scanning on every build; patch SLAs by severity; SBOM per release.",
    ),
    "secure-sdlc": (
        "Secure development life cycle",
        "preventive",
        "Threat modelling per feature, mandatory review, SAST in CI, signed commits and artifacts.",
    ),
    "monitoring": (
        "Security monitoring",
        "detective",
        "Centralised logs and alerts on anomalous access, failed logins and privilege changes.",
    ),
    "data-minimisation": (
        "Data minimisation and retention",
        "preventive",
        "Collect only needed fields, pseudonymise analytics, delete on schedule and on request.",
    ),
    "consent-management": (
        "Consent management",
        "preventive",
        "Explicit, recorded, revocable consent for optional processing and telemetry.",
    ),
    "device-identity": (
        "Device identity",
        "preventive",
        "Per-device X.509 certificates, mutual TLS on ingestion, revocation of lost devices.",
    ),
    "model-governance": (
        "Model governance",
        "detective",
        "Versioned models with validation evidence; each result records the model version used.",
    ),
    "change-management": (
        "Change management",
        "preventive",
        "Reviewed, ticketed changes with approvals and traceable deployments.",
    ),
    "incident-response": (
        "Incident response",
        "corrective",
        "Runbooks, on-call, severity levels and regulator/customer notification timelines.",
    ),
}

#: STRIDE category → the control families that address it
STRIDE_FAMILIES: dict[str, tuple[str, ...]] = {
    "spoofing": ("authentication",),
    "tampering": ("input-validation", "audit-logging"),
    "repudiation": ("audit-logging",),
    "information-disclosure": ("access-control", "encryption-at-rest"),
    "denial-of-service": ("rate-limiting",),
    "elevation-of-privilege": ("access-control",),
}

#: component key → (signal that enables it or "" for always, name, responsibility, keywords mapped to it)
COMPONENTS: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "client",
        "",
        "{client}",
        "User interface: screens, local state and accessibility.",
        "view see watch chart show display swipe tap screen daily dashboard ui overlay heatmap",
    ),
    (
        "gateway",
        "",
        "API gateway",
        "Single entry point: authentication, rate limits, request validation, routing.",
        "api webhook endpoint",
    ),
    (
        "identity",
        "",
        "Identity and access",
        "Sign-up, sign-in, roles and permissions.",
        "sign login account role permission administrator admin invite",
    ),
    ("core", "", "{noun} service", "Core domain logic and persistence of the main records.", ""),
    (
        "sync",
        "offline",
        "Sync engine",
        "Offline queue, conflict resolution and multi-device sync.",
        "sync offline connectivity edit conflict device laptop phone",
    ),
    (
        "ingest",
        "iot",
        "Telemetry ingestion",
        "MQTT ingestion, validation and buffering of device readings.",
        "sensor reading mqtt ingest connect report temperature humidity power",
    ),
    (
        "realtime",
        "realtime",
        "Realtime push",
        "Pushes live updates to connected clients over WebSockets.",
        "live realtime update second stream",
    ),
    (
        "alerts",
        "alerts",
        "Notifications and alerts",
        "Rules evaluation and delivery of alerts and reminders.",
        "alert notify notification reminder threshold email sms snooze breach",
    ),
    (
        "ml",
        "ml",
        "ML inference",
        "Runs versioned models and produces findings with confidence scores.",
        "flag finding confidence heatmap model analyse analyze detect prioritise prioritised suspected",
    ),
    (
        "registry",
        "ml",
        "Model registry",
        "Stores model versions, validation evidence and lineage.",
        "version traceable lineage",
    ),
    (
        "integration",
        "integration",
        "Integration hub",
        "Connectors to external systems (import, export, webhooks).",
        "dicom pac fhir hl7 ehr integration upload import export",
    ),
    (
        "history",
        "history",
        "Search and history",
        "Indexes past records for search, trends and reports.",
        "history search searchable trend prior compare report week month",
    ),
    (
        "tenancy",
        "multitenant",
        "Tenant management",
        "Tenants, their settings and isolation boundaries.",
        "tenant institution organisation isolation another visible",
    ),
    (
        "audit",
        "compliance",
        "Audit log",
        "Append-only record of access and changes for compliance.",
        "audit audited access protected compliance",
    ),
    (
        "billing",
        "payments",
        "Billing",
        "Plans, invoices and payment provider integration.",
        "payment billing invoice",
    ),
    ("datastore", "", "Primary database", "Durable storage, backups and migrations.", "store kept storage"),
)

#: domain noun → (entity name, fields "name:type" with ! required and * personal data, related nouns)
ENTITIES: dict[str, tuple[str, str, str]] = {
    "user": ("User", "email:string!* display_name:string* role:enum! last_seen_at:datetime", "tenant"),
    "tenant": ("Tenant", "name:string! plan:enum! region:string", ""),
    "institution": ("Institution", "name:string! country:string! plan:enum!", ""),
    "task": (
        "Task",
        "title:string! notes:text due_at:datetime status:enum! completed_at:datetime",
        "user list",
    ),
    "list": ("TaskList", "name:string! color:string position:integer", "user"),
    "tag": ("Tag", "name:string!", "user"),
    "reminder": ("Reminder", "remind_at:datetime! channel:enum! sent:boolean", "task"),
    "sensor": (
        "Sensor",
        "serial:string! kind:enum! location:string last_reading_at:datetime",
        "tenant group",
    ),
    "group": ("SensorGroup", "name:string! description:text", "tenant"),
    "reading": ("Reading", "recorded_at:datetime! metric:enum! value:number!", "sensor"),
    "alert": ("AlertRule", "metric:enum! operator:enum! threshold:number! channels:json!", "group tenant"),
    "notification": ("Notification", "channel:enum! sent_at:datetime! payload:json status:enum!", "user"),
    "study": (
        "Study",
        "accession_number:string!* modality:enum! received_at:datetime! status:enum!",
        "patient institution",
    ),
    "scan": ("Series", "modality:enum! body_part:string image_count:integer!", "study"),
    "patient": ("Patient", "mrn:string!* birth_date:date* sex:enum*", "institution"),
    "finding": (
        "Finding",
        "label:string! confidence:number! heatmap_uri:string model_version:string!",
        "study",
    ),
    "report": ("Report", "body:text! status:enum! signed_at:datetime", "study user"),
    "worklist": ("WorklistItem", "priority:integer! status:enum! assigned_at:datetime", "study user"),
    "integration": ("Integration", "kind:enum! endpoint:string! enabled:boolean!", "institution"),
    "version": ("ModelVersion", "name:string! version:string! validated_at:datetime metrics:json", ""),
    "order": ("Order", "total:decimal! currency:string! status:enum!", "user"),
    "payment": ("Payment", "amount:decimal! provider_ref:string! status:enum!", "order"),
    "project": ("Project", "name:string! status:enum!", "user"),
    "comment": ("Comment", "body:text! created_by:uuid!*", "user"),
    "device": ("Device", "serial:string! firmware:string status:enum!", "tenant"),
    "audit": ("AuditEvent", "actor_id:uuid!* action:string! target:string! at:datetime! ip:string*", "user"),
}

#: subject words that make a clause a user action ("operators watch ...")
ACTOR_WORDS = frozenset(
    "user users operator operators clinician clinicians radiologist radiologists administrator administrators "
    "admin admins people customer customers they technician technicians member members team teams student "
    "students patient patients manager managers".split()
)
#: subject words that make a clause a system behaviour ("the app syncs ...")
SYSTEM_WORDS = frozenset("app application platform service system it software tool dashboard product".split())

#: category → well-known alternatives users compare against (plus the status quo, always added)
COMPETITORS: dict[str, tuple[str, ...]] = {
    "productivity": ("Todoist", "Microsoft To Do", "TickTick", "Things 3"),
    "consumer": ("Todoist", "Google Tasks", "Any.do"),
    "iot": ("ThingsBoard", "AWS IoT SiteWise", "Grafana Cloud", "Losant"),
    "healthcare": ("Aidoc", "Lunit INSIGHT", "Qure.ai", "Annalise.ai"),
    "fintech": ("Stripe", "Adyen", "Square"),
    "ecommerce": ("Shopify", "WooCommerce", "BigCommerce"),
    "education": ("Google Classroom", "Canvas LMS", "Moodle"),
    "enterprise": ("Salesforce", "ServiceNow", "Monday.com"),
    "other": ("Notion", "Airtable", "Zapier"),
}


#: category → what users do today instead
STATUS_QUO = {
    "productivity": "paper notes, calendar entries and generic note apps",
    "iot": "vendor portals per device type and exported spreadsheets",
    "healthcare": "manual reads, fragmented PACS viewers and phone calls",
    "fintech": "manual reconciliation in spreadsheets",
    "enterprise": "spreadsheets, email threads and ad-hoc scripts",
}


def status_quo(category: str) -> str:
    """What users of ``category`` rely on today (the incumbent every idea competes with)."""
    return STATUS_QUO.get(category, "spreadsheets, email and manual work")
