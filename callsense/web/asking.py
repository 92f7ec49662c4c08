"""The call page's question box: a question about the call, answered from its transcript with checked quotes.

Analysts and admins may ask (viewers have no box and get 403); the form carries the session's CSRF token
like every other form. The answer is rendered once into the page and stored nowhere.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse
from pydantic import TypeAdapter, ValidationError

from callsense.calls import service as calls
from callsense.errors import CallsenseError, NotFoundError, NoTranscriptError
from callsense.pipeline import ask
from callsense.security.tokens import Role
from callsense.serving import RuntimeDep
from callsense.web import call_view
from callsense.web.site import PREFIX, CsrfCheckedDep, WebRefusal, page

router = APIRouter(prefix=PREFIX, include_in_schema=False)
_question = TypeAdapter(ask.QuestionText)


@router.post("/calls/{call_id}/ask")
def ask_about_call(
    call_id: str,
    request: Request,
    rt: RuntimeDep,
    user: CsrfCheckedDep,
    question: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """The answer as a fragment for the box; problems the asker can act on are shown in it too."""
    if not user.role.allows(Role.analyst):
        raise WebRefusal(status.HTTP_403_FORBIDDEN, "Asking about a call needs the analyst role.")
    try:
        checked = _question.validate_python(question)
    except ValidationError:
        return _fragment(request, error=f"Write a question of 1 to {ask.QUESTION_MAX_CHARS} characters.")
    try:
        answer = ask.ask_about_call(rt, call_id=call_id, question=checked, actor=user.actor, via="web")
    except NoTranscriptError:  # the page offers no box then; the transcript went after it was drawn
        with rt.db.transaction() as session:
            why = call_view.missing_transcript_of(calls.get(session=session, call_id=call_id))
        return _fragment(request, error=f"{why} Questions need a transcript.")
    except NotFoundError:
        raise WebRefusal(status.HTTP_404_NOT_FOUND, f"There is no call with the id “{call_id}”.") from None
    except CallsenseError as exc:  # the LLM is down or misconfigured: say so where the answer would be
        return _fragment(request, error=f"The question could not be answered: {exc}")
    with rt.db.transaction() as session:  # the quotes are the call's words: read out in its language
        language = calls.get(session=session, call_id=call_id).language
    return _fragment(request, answer=answer, language=language)


def _fragment(
    request: Request,
    *,
    answer: ask.CallAnswer | None = None,
    error: str | None = None,
    language: str | None = None,
) -> HTMLResponse:
    return page(request, "_ask_answer.html", {"answer": answer, "error": error, "language": language})
