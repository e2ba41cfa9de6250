"""The get_weather tool of weather_agent.yaml: a fixed forecast for a few cities.

A real tool would ask a weather service. This one answers from a table so that it gives the same
result on every run: replay calls it again and sends its result in the next request, so a result
that changed would make the case STALE at that step (which is what an edited tool should do, and
what a clock or a network call must not do behind a test's back).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Forecast:
    celsius: int
    conditions: str


FORECASTS = {
    "Paris": Forecast(18, "partly cloudy"),
    "Tokyo": Forecast(24, "light rain"),
    "Lima": Forecast(19, "overcast"),
    "Oslo": Forecast(-2, "light snow"),
}


def get_weather(location: str, unit: str = "celsius") -> dict[str, object]:
    """The forecast as the model reads it (sent as JSON); an unknown city is an answer too, as a
    real service's "not found" would be, not an exception (which would end the case as an error)."""
    forecast = FORECASTS.get(location)
    if forecast is None:
        return {"location": location, "error": f"no forecast for {location}"}
    temperature = forecast.celsius if unit == "celsius" else round(forecast.celsius * 9 / 5 + 32)
    return {"location": location, "temperature": temperature, "unit": unit, "conditions": forecast.conditions}
