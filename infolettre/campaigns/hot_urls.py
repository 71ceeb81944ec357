"""The public endpoints a campaign's first minutes hammer: the click redirect and the open pixel.

They belong to the campaigns URLconf (`campaigns:track_click`, `campaigns:track_open`) and form
this small URLconf too, which settings.HOT_URLCONF names: `infolettre.hot_routes` answers its
routes ahead of the rest of the middleware (see there why).
"""

from django.urls import path

from . import views_tracking

urlpatterns = [
    # Public: a campaign's click redirect and open pixel, when it counts them (see tracking.py).
    path("t/c/<str:token>/", views_tracking.track_click, name="track_click"),
    path("t/o/<str:token>.gif", views_tracking.track_open, name="track_open"),
]
