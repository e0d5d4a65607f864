"""A client of Port's REST API written as Port's docs write one, with
requests. berth's end-to-end test runs it unchanged against `berth serve`:
only the base URL differs (BASE_URL; Port's is https://api.getport.io).
It exits non-zero when an answer is not what Port would give."""

import os
import sys

import requests

PORT_API_URL = os.environ.get("BASE_URL", "https://api.getport.io").rstrip("/") + "/v1"
PORT_CLIENT_ID = os.environ["CLIENT_ID"]
PORT_CLIENT_SECRET = os.environ["CLIENT_SECRET"]


def get_access_token():
    response = requests.post(
        f"{PORT_API_URL}/auth/access_token",
        json={"clientId": PORT_CLIENT_ID, "clientSecret": PORT_CLIENT_SECRET},
    )
    response.raise_for_status()
    body = response.json()
    assert body["ok"] is True and body["tokenType"] == "Bearer" and body["expiresIn"] > 0, body
    return body["accessToken"]


def get_port_entities(token, blueprint):
    response = requests.get(
        f"{PORT_API_URL}/blueprints/{blueprint}/entities",
        headers={"Authorization": f"Bearer {token}"},
    )
    response.raise_for_status()
    return response.json().get("entities", [])


def search_entities(token, query):
    response = requests.post(
        f"{PORT_API_URL}/entities/search",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        json=query,
    )
    response.raise_for_status()
    return response.json()


def search_blueprint_pages(token, blueprint, query, limit):
    """Pages through a blueprint search: the answer's next goes back as from."""
    headers = {"Authorization": f"Bearer {token}"}
    body = {"query": query, "limit": limit, "include": ["identifier", "title"]}
    while True:
        response = requests.post(
            f"{PORT_API_URL}/blueprints/{blueprint}/entities/search", headers=headers, json=body
        )
        response.raise_for_status()
        data = response.json()
        yield from data["entities"]
        if not data.get("next"):
            return
        body["from"] = data["next"]


def main():
    token = get_access_token()

    services = get_port_entities(token, "service")
    assert services, "no services"
    for entity in services:
        for key in ("identifier", "title", "blueprint", "properties", "relations", "team"):
            assert key in entity, (key, entity)
    print(f"listed {len(services)} services")

    result = search_entities(
        token,
        {
            "combinator": "and",
            "rules": [
                {"property": "$blueprint", "operator": "=", "value": "service"},
                {"property": "lifecycle", "operator": "=", "value": "Production"},
            ],
        },
    )
    assert result["ok"] is True, result
    production = [e["identifier"] for e in result["entities"]]
    assert production and "payments-api" in production, production
    assert result["matchingBlueprints"] == ["service"], result["matchingBlueprints"]
    print(f"search found {len(production)} production services")

    paged = [e["identifier"] for e in search_blueprint_pages(token, "service", {"combinator": "and", "rules": []}, 3)]
    assert sorted(paged) == sorted(e["identifier"] for e in services), paged
    print(f"paged through {len(paged)} services, 3 at a time")

    response = requests.get(f"{PORT_API_URL}/blueprints/service/entities", headers={"Authorization": "Bearer forged"})
    assert response.status_code == 401 and response.json()["ok"] is False, response.text

    response = requests.post(
        f"{PORT_API_URL}/blueprints/service/entities",
        headers={"Authorization": f"Bearer {token}"},
        json={"identifier": "user-service", "title": "User Service"},
    )
    assert response.status_code == 405 and response.json()["error"] == "read_only", response.text
    print("writes are refused:", response.json()["message"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
