"""GET /fhir/Communication/ID and GET /fhir/Task: FHIR R4 reads for the clinic's EHR or
portal (an integration token with fhir:read) and for clinical staff (their session, or a
token with fhir:read), under the same rules as the API v1 reads: another clinic's message
404, billing and administrators 403. Here, above inbox, because who may read a thread is
routing's scope of practice."""

from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import IsStaff, TokenScope
from accounts.selectors import integration_of
from config.fhir import FhirApiView, validate_resource
from config.pagination import CheckedCursorPagination
from inbox.fhir import communication_from_message
from inbox.models import PatientDataAccess
from routing.fhir import TaskSearchInvalid, task_from_work_item, task_search
from routing.selectors import access_message, task_work_items


class CommunicationReadApi(FhirApiView):
    """One stored patient message as a Communication, written to the access log."""

    permission_classes = [IsAuthenticated, IsStaff, TokenScope]
    allow_integrations = True
    required_scopes = {"GET": "fhir:read"}

    def get(self, request: Request, message_id: int) -> Response:
        message = access_message(
            user=request.user,
            integration=integration_of(request.user),
            message_id=message_id,
            viewed_as=PatientDataAccess.What.MESSAGE_API,
        )
        communication = communication_from_message(
            message_id=message.pk,
            external_id=message.external_id,
            mrn=message.conversation.patient.mrn,
            subject=message.subject,
            body=message.body,
            category=message.category,
            sent_at=message.sent_at,
            received_at=message.created_at,
            updated_at=message.updated_at,
        )
        return Response(validate_resource(communication))


class TaskPagination(CheckedCursorPagination):
    ordering = ("id",)
    page_size = 50
    max_page_size = 200
    page_size_query_param = "_count"


class TaskSearchApi(FhirApiView):
    """GET /fhir/Task?owner=...&status=...&_count=N: a searchset Bundle of work items, in
    id order, with a `next` link while more remain. No patient in it (routing.fhir)."""

    permission_classes = [IsAuthenticated, IsStaff, TokenScope]
    allow_integrations = True
    required_scopes = {"GET": "fhir:read"}

    class _Count(serializers.Serializer):
        _count = serializers.IntegerField(
            required=False, min_value=1, max_value=TaskPagination.max_page_size
        )

    def get(self, request: Request) -> Response:
        try:
            search = task_search(
                status=request.query_params.get("status"),
                owner=request.query_params.get("owner"),
            )
        except TaskSearchInvalid as exc:
            raise serializers.ValidationError({exc.parameter: [str(exc)]}) from None
        # DRF would quietly use its default for a bad _count; a FHIR client asked for a size.
        self._Count(data=request.query_params).is_valid(raise_exception=True)
        items = task_work_items(
            user=request.user,
            integration=integration_of(request.user),
            statuses=search.statuses,
            held_by=search.held_by,
            unheld_in_queue=search.unheld_in_queue,
        )
        paginator = TaskPagination()
        page = paginator.paginate_queryset(items, request, view=self)
        links = [{"relation": "self", "url": request.build_absolute_uri()}]
        if paginator.get_next_link():
            links.append({"relation": "next", "url": paginator.get_next_link()})
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "link": links,
            "entry": [
                {
                    "fullUrl": request.build_absolute_uri(f"/fhir/Task/{item.pk}"),
                    "resource": _task(item),
                    "search": {"mode": "match"},
                }
                for item in page
            ],
        }
        return Response(validate_resource(bundle))


def _task(item) -> dict:
    holder = None
    if item.claimed_by is not None:
        person = item.claimed_by
        holder = (person.pk, person.get_full_name() or person.get_username())
    return task_from_work_item(
        item_id=item.pk,
        status=item.status,
        acuity=item.acuity,
        message_id=item.message_id,
        holder=holder,
        queue=(item.queue_id, item.queue.name),
        created_at=item.created_at,
        updated_at=item.updated_at,
        due_at=item.due_at,
        claimed_at=item.claimed_at,
        closed_at=item.closed_at,
    )
