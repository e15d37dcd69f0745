from django.apps import AppConfig


class TriageConfig(AppConfig):
    name = "triage"

    def ready(self) -> None:
        from triage import receivers  # noqa: F401  (configuration versions)
