"""The claims export as FHIR R4: a Bundle (collection) of ChargeItem resources, one per
claim row (billing.services._claim_row). Pure: rows in, a dict out; the export validates
it (config.fhir) before it is stored, so no file a receiver would reject leaves.

What a clearinghouse rejected before: `urn:uuid:evisit-16` (not a UUID) and an NPI
identifier with an empty value (FHIR forbids empty strings). Now each entry's fullUrl is
urn:uuid:<a fresh UUID> (our e-visit id is kept as an identifier), and an element whose
value we do not have is left out, never sent empty; a claim without an NPI is the export
warning's business (billing.selectors), not the file's."""

import uuid

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
MRN_SYSTEM = "urn:portal-triage:mrn"  # config.fhir.MRN_SYSTEM: one system for our MRNs
EVISIT_SYSTEM = "urn:portal-triage:evisit"
EXPORT_SYSTEM = "urn:portal-triage:claim-export"


def charge_item(row: dict, *, resource_id: str) -> dict:
    charge = {
        "resourceType": "ChargeItem",
        "id": resource_id,
        "identifier": [{"system": EVISIT_SYSTEM, "value": str(row["evisit_id"])}],
        "status": "billable",
        "code": {"coding": [{"system": CPT_SYSTEM, "code": row["code"]}]},
        "subject": _reference(
            identifier={"system": MRN_SYSTEM, "value": row["mrn"]}, display=row["patient"]
        ),
        "quantity": {"value": 1},
        "note": [{"text": f"Online digital E/M, {row['minutes']} cumulative minutes"}],
    }
    if row.get("time_zone"):
        # A date has no zone in FHIR: say which calendar it is on (the clinic's, not UTC).
        charge["note"].append(
            {"text": f"Date of service on the clinic's calendar, time zone {row['time_zone']}"}
        )
    if row["date_of_service"]:
        charge["occurrenceDateTime"] = row["date_of_service"]
    npi = (row["rendering_provider_npi"] or "").strip()
    if npi or row["rendering_provider"]:
        actor = _reference(
            identifier={"system": NPI_SYSTEM, "value": npi} if npi else None,
            display=row["rendering_provider"],
        )
        charge["performer"] = [{"actor": actor}]
    if row["clinic"]:
        charge["performingOrganization"] = {"display": row["clinic"]}
    if row["amount"]:
        charge["priceOverride"] = {"value": float(row["amount"]), "currency": "USD"}
    return charge


def _reference(*, identifier: dict | None, display: str) -> dict:
    reference = {}
    if identifier is not None:
        reference["identifier"] = identifier
    if display and display.strip():
        reference["display"] = display
    return reference


def charge_item_bundle(
    rows: list[dict], *, export_id: int, timestamp: str, new_uuid=uuid.uuid4
) -> dict:
    entries = []
    for row in rows:
        entry_uuid = str(new_uuid())
        entries.append(
            {
                "fullUrl": f"urn:uuid:{entry_uuid}",
                "resource": charge_item(row, resource_id=entry_uuid),
            }
        )
    return {
        "resourceType": "Bundle",
        "id": f"claim-export-{export_id}",
        "identifier": {"system": EXPORT_SYSTEM, "value": str(export_id)},
        "type": "collection",
        "timestamp": timestamp,
        "entry": entries,
    }
