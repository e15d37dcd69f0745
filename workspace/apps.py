from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    """The staff screens: queue pages and the work item page, which show routing's work
    and billing's time side by side (so they sit above both)."""

    name = "workspace"
