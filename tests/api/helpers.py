"""Small helpers the API tests share."""


def results(response) -> list[dict]:
    """The rows of a list response (failing with the body when it is not a 200)."""
    assert response.status_code == 200, response.content.decode()
    return response.json()["results"]


def ids(response) -> set:
    return {row["id"] for row in results(response)}


def if_match(version) -> dict:
    """The header a write to a versioned row sends."""
    return {"HTTP_IF_MATCH": f'"{version}"'}
