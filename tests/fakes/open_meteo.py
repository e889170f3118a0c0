"""A local HTTP server that speaks Open-Meteo's geocoding and forecast JSON.

Open-Meteo cannot be reached from the test machines; this server answers the same
requests with the same response shapes, so the production client runs unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Text
from urllib.parse import parse_qs, urlparse

PLACES: Dict[Text, Dict[Text, Any]] = {
    "beijing": {"en": "Beijing", "zh": "北京", "lat": 39.9075, "lon": 116.39723,
                "country": "China", "tz": "Asia/Shanghai"},
    "shanghai": {"en": "Shanghai", "zh": "上海", "lat": 31.22222, "lon": 121.45806,
                 "country": "China", "tz": "Asia/Shanghai"},
    "shenzhen": {"en": "Shenzhen", "zh": "深圳", "lat": 22.54554, "lon": 114.0683,
                 "country": "China", "tz": "Asia/Shanghai"},
    "london": {"en": "London", "zh": "伦敦", "lat": 51.50853, "lon": -0.12574,
               "country": "United Kingdom", "tz": "Europe/London"},
    "tokyo": {"en": "Tokyo", "zh": "东京", "lat": 35.6895, "lon": 139.69171,
              "country": "Japan", "tz": "Asia/Tokyo"},
}
ALIASES = {p["zh"]: key for key, p in PLACES.items()}


def forecast_for(latitude: float, day: dt.date) -> Dict[Text, Any]:
    """Deterministic daily values, different per place and day."""
    base = round(latitude) % 10 + day.day % 7
    return {
        "weather_code": [0, 2, 3, 61, 71][day.day % 5],
        "temperature_2m_max": base + 8.4,
        "temperature_2m_min": base + 0.6,
        "precipitation_probability_max": (day.day * 7) % 100,
    }


class FakeOpenMeteo:
    """Runs the fake server on 127.0.0.1 and a free port, in a thread."""

    def __init__(self) -> None:
        self.requests: List[Dict[Text, Any]] = []
        self.fail_with: Optional[int] = None  # answer every request with this status
        self.delay_seconds = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                fake.requests.append({"path": url.path, "query": query})
                if fake.delay_seconds:
                    time.sleep(fake.delay_seconds)
                if fake.fail_with:
                    self._send(fake.fail_with, {"error": True, "reason": "fake failure"})
                elif url.path == "/v1/search":
                    self._send(200, fake.geocode(query))
                elif url.path == "/v1/forecast":
                    status, body = fake.forecast(query)
                    self._send(status, body)
                else:
                    self._send(404, {"error": True, "reason": "Not Found"})

            def _send(self, status: int, body: Dict[Text, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def geocoding_url(self) -> Text:
        return f"{self.url}/v1/search"

    @property
    def forecast_url(self) -> Text:
        return f"{self.url}/v1/forecast"

    def start(self) -> FakeOpenMeteo:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def geocode(self, query: Dict[Text, Text]) -> Dict[Text, Any]:
        name = query.get("name", "").strip()
        key = ALIASES.get(name, name.lower())
        body: Dict[Text, Any] = {"generationtime_ms": 0.7}
        place = PLACES.get(key)
        if place is None:
            return body  # Open-Meteo leaves out "results" when nothing matches
        language = query.get("language", "en")
        body["results"] = [
            {
                "id": abs(hash(key)) % 10_000_000,
                "name": place["zh"] if language == "zh" else place["en"],
                "latitude": place["lat"],
                "longitude": place["lon"],
                "country": place["country"],
                "timezone": place["tz"],
            }
        ]
        return body

    def forecast(self, query: Dict[Text, Text]) -> tuple:
        try:
            latitude = float(query["latitude"])
            start = dt.date.fromisoformat(query["start_date"])
            end = dt.date.fromisoformat(query["end_date"])
        except (KeyError, ValueError) as e:
            return 400, {"error": True, "reason": f"Parameter error: {e}"}
        days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
        fields = query.get("daily", "").split(",")
        daily: Dict[Text, List[Any]] = {"time": [d.isoformat() for d in days]}
        for field in fields:
            daily[field] = [forecast_for(latitude, d).get(field) for d in days]
        return 200, {
            "latitude": latitude,
            "longitude": float(query.get("longitude", 0)),
            "timezone": query.get("timezone", "GMT"),
            "daily_units": {"time": "iso8601", "temperature_2m_max": "°C"},
            "daily": daily,
        }
