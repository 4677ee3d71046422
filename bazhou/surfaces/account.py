"""修改密码: any signed-in user changes their own password (/account/password/), village cadres included.

Django's PasswordChangeView and form: the old password, then the new one twice, checked by every rule in
``AUTH_PASSWORD_VALIDATORS`` (Chinese messages). The user stays signed in on this device (Django updates the
session's hash); other sessions of the same user end. A district admin resets a forgotten password in the admin.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy

CHANGED = "密码已修改。下次登录请使用新密码；本设备保持登录，其他设备上的登录已失效。"


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    """Django's form with the site's input style and the browser's password-manager hints."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.widget.attrs["class"] = "form-control"
            field.widget.attrs["autocomplete"] = "current-password" if name == "old_password" else "new-password"


class PasswordChangeView(auth_views.PasswordChangeView):
    form_class = PasswordChangeForm
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, CHANGED)
        return response


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "registration/password_change_done.html"
