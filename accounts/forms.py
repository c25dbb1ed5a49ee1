"""Sign-in forms that say so when sign-ins from here are locked (``accounts/login_guard.py``);
otherwise the lock would read as a wrong password."""
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from . import login_guard


class LockAwareMixin:
    def clean(self):
        if self.request is not None and login_guard.locked(self.request, self.cleaned_data.get("username")):
            raise ValidationError(login_guard.locked_message(), code="locked")
        return super().clean()


class SignInForm(LockAwareMixin, AuthenticationForm):
    pass


class AdminSignInForm(LockAwareMixin, AdminAuthenticationForm):
    pass
