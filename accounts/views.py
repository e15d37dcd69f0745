from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from routing.selectors import open_work_items, queues_for_user


@login_required
def home(request: HttpRequest) -> HttpResponse:
    queues = list(queues_for_user(user=request.user).order_by("clinic__name", "name"))
    items = open_work_items(user=request.user)[:100]
    return render(request, "accounts/home.html", {"queues": queues, "work_items": items})
