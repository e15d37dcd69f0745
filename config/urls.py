from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from accounts.forms import SignInForm
from accounts.views import home, keep_session_alive, switch_clinic
from billing import views as billing_views
from billing.api import EVisitDetailApi, EVisitListApi, TimeEntryCreateApi, TimeEntryListApi
from config.api_docs import SchemaApi, SwaggerDocsPage
from config.fhir import CapabilityStatementApi
from inbox.api.fhir import CommunicationCreateApi
from inbox.api.views import OutboxApi, ReplyDeliveredApi
from pipeline import views as pipeline_views
from routing.api.configuration import QueueListApi, RoutingRuleListApi
from routing.api.fhir import CommunicationReadApi, TaskSearchApi
from routing.api.messages import MessageDetailApi, MessagesApi, MessagesBatchApi
from routing.api.operations import OperationsApi
from routing.api.views import (
    ClaimWorkItemApi,
    CloseWorkItemApi,
    CorrectWorkItemApi,
    ReassignWorkItemApi,
    ReopenWorkItemApi,
    ReplyWorkItemApi,
)
from routing.api.work_items import WorkItemDetailApi, WorkItemListApi
from workspace import bulk_views, operations_views, pending_views, search_views
from workspace import views as work_views

api_v1 = [
    # The OpenAPI description and Swagger UI: any signed-in principal (config/api_docs.py).
    path("api/schema/", SchemaApi.as_view(), name="api-schema"),
    path("api/docs/", SwaggerDocsPage.as_view(), name="api-docs"),
    # POST: the portal's intake; GET ?conversation_id=: a conversation's messages.
    path("api/v1/messages", MessagesApi.as_view(), name="api-messages"),
    # POST: the same intake for up to 500 messages, a result per message (integrations).
    path("api/v1/messages:batch", MessagesBatchApi.as_view(), name="api-messages-batch"),
    path("api/v1/messages/<int:message_id>", MessageDetailApi.as_view(), name="api-message"),
    path("api/v1/outgoing-messages", OutboxApi.as_view(), name="api-outbox"),
    path(
        "api/v1/outgoing-messages/<int:reply_id>/delivered",
        ReplyDeliveredApi.as_view(),
        name="api-reply-delivered",
    ),
    path("api/v1/work-items", WorkItemListApi.as_view(), name="api-work-items"),
    path("api/v1/work-items/<int:item_id>", WorkItemDetailApi.as_view(), name="api-work-item"),
    *[
        path(f"api/v1/work-items/<int:item_id>/{action}", view.as_view(), name=f"api-work-{action}")
        for action, view in [
            ("claim", ClaimWorkItemApi),
            ("reply", ReplyWorkItemApi),
            ("close", CloseWorkItemApi),
            ("reopen", ReopenWorkItemApi),
            ("reassign", ReassignWorkItemApi),
            ("correct", CorrectWorkItemApi),
        ]
    ],
    path("api/v1/billing/evisits", EVisitListApi.as_view(), name="api-billing-evisits"),
    path(
        "api/v1/billing/evisits/<int:evisit_id>",
        EVisitDetailApi.as_view(),
        name="api-billing-evisit",
    ),
    path("api/v1/time-entries", TimeEntryListApi.as_view(), name="api-time-entries"),
    path("api/v1/queues", QueueListApi.as_view(), name="api-queues"),
    path("api/v1/routing-rules", RoutingRuleListApi.as_view(), name="api-routing-rules"),
    path("api/v1/operations", OperationsApi.as_view(), name="api-operations"),
    path(
        "api/v1/work-items/<int:item_id>/time",
        TimeEntryCreateApi.as_view(),
        name="api-work-item-time",
    ),
]

# FHIR R4 (docs/integration.md, "FHIR R4"): FHIR JSON in and out, OperationOutcome errors.
fhir = [
    path("fhir/metadata", CapabilityStatementApi.as_view(), name="fhir-metadata"),
    path("fhir/Communication", CommunicationCreateApi.as_view(), name="fhir-communications"),
    path(
        "fhir/Communication/<int:message_id>",
        CommunicationReadApi.as_view(),
        name="fhir-communication",
    ),
    path("fhir/Task", TaskSearchApi.as_view(), name="fhir-tasks"),
]

urlpatterns = [
    path("", home, name="home"),
    path("login/", auth_views.LoginView.as_view(authentication_form=SignInForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("clinic/", switch_clinic, name="switch-clinic"),
    path("session/keep-alive", keep_session_alive, name="session-keep-alive"),
    path("work/", work_views.work, name="work"),
    path("work/rows", work_views.work_rows, name="work-rows"),
    path("work/bulk", bulk_views.bulk_action, name="work-bulk"),
    path("work/search", search_views.work_search, name="work-search"),
    path("work/counts", work_views.work_counts, name="work-counts"),
    path("work/next", work_views.claim_next, name="work-claim-next"),
    path("work/after-action", work_views.set_after_action, name="work-after-action"),
    path("work/arrival-alert", work_views.arrival_alert, name="work-arrival-alert"),
    path("work/pending", pending_views.pending_list, name="work-pending"),
    path("work/items/<int:item_id>/", work_views.work_item, name="work-item"),
    path(
        "work/items/<int:item_id>/patient-context/",
        pending_views.patient_context,
        name="work-item-patient-context",
    ),
    path(
        "work/items/<int:item_id>/<slug:action>",
        work_views.work_item_action,
        name="work-item-action",
    ),
    path("operations/", operations_views.dashboard, name="operations"),
    path("operations/export.csv", operations_views.export_csv, name="operations-export"),
    path("billing/", billing_views.evisit_list, name="billing"),
    path("billing/evisits/<int:evisit_id>/", billing_views.evisit_detail, name="billing-evisit"),
    path("billing/review", billing_views.review, name="billing-review"),
    path("billing/export", billing_views.export, name="billing-export"),
    path(
        "billing/exports/<int:export_id>",
        billing_views.export_download,
        name="billing-export-download",
    ),
    path("billing/revenue", billing_views.revenue, name="billing-revenue"),
    path("admin/", admin.site.urls),
    path("health/", pipeline_views.health_page, name="health"),
    path("health/live", pipeline_views.live, name="health-live"),
    path("health/ready", pipeline_views.ready, name="health-ready"),
    *api_v1,
    *fhir,
]

# JSON under /api/ (never an HTML page to the portal), Django's pages elsewhere.
handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"
