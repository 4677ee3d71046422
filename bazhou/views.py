from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect


@login_required
def home(request):
    """The home page; the dashboard replaces this redirect when it exists."""
    return redirect("villages:list")
