"""Plain-text rendering of evaluation reports for the commands and docs."""


def _pct(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def summary_line(report: dict) -> str:
    parts = [
        f"acuity acc {_pct(report['acuity']['accuracy'])}",
        f"emergent recall {_pct(report['emergent_recall'])}",
        f"emergent+urgent recall {_pct(report['urgent_or_above_recall'])}",
        f"emergent->routine {report['emergent_predicted_routine']}",
    ]
    if "service_level" in report:
        parts += [
            f"service acc {_pct(report['service_level']['accuracy'])}",
            f"service macro-F1 {_pct(report['service_level']['macro_f1'])}",
        ]
    if "evisit_f1" in report:
        parts.append(f"e-visit F1 {_pct(report['evisit_f1'])}")
    return " | ".join(parts)


def label_table(name: str, label: dict) -> str:
    lines = [f"{name}: accuracy {_pct(label['accuracy'])}, macro-F1 {_pct(label['macro_f1'])}"]
    lines.append(f"  {'class':<12}{'precision':>10}{'recall':>8}{'F1':>7}{'n':>6}")
    for cls, m in label["per_class"].items():
        lines.append(
            f"  {cls:<12}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1']:>7.3f}{m['support']:>6}"
        )
    classes = label["classes"]
    lines.append("  confusion (rows gold, columns predicted): " + " ".join(classes))
    for cls, row in zip(classes, label["confusion"], strict=True):
        lines.append(f"  {cls:<12}" + "".join(f"{v:>8}" for v in row))
    return "\n".join(lines)


def full_report(report: dict) -> str:
    out = [summary_line(report), f"rows: {report['rows']}"]
    for key in ("acuity", "service_level", "evisit_candidate"):
        if key in report:
            out.append(label_table(key, report[key]))
    return "\n".join(out)
