from django.apps import AppConfig


class PipelineConfig(AppConfig):
    """The top of the layers: classify-then-route, the sweep that re-enqueues it, and the
    demo data that fills every app."""

    name = "pipeline"

    def ready(self) -> None:
        from pipeline import receivers  # noqa: F401  (connects inbox's message_received)
