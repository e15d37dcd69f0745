from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from accounts.views import home
from routing.api.views import WorkItemListApi
from triage.api.views import ReceiveMessageApi

api_v1 = [
    path("api/v1/messages", ReceiveMessageApi.as_view(), name="api-messages"),
    path("api/v1/work-items", WorkItemListApi.as_view(), name="api-work-items"),
]

urlpatterns = [
    path("", home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    *api_v1,
]
