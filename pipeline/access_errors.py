"""One-line explanations for the usual storage mistakes: no credentials, credentials that are
refused, a filesystem extra that is not installed; and on a local disk, a full disk, a read-only
or forbidden folder, a path that is a file where a folder should be.

Beam wraps per-path errors in ``BeamIOError(exception_details={path: error})``, its S3 client
flattens botocore errors into ``S3ClientError(message, code)``, and its GCS client falls back to
an anonymous client when google-auth finds no credentials (the request is then refused with
"Anonymous caller ..."). So the whole exception chain is searched (causes, contexts, details),
and classes are recognised by module and name: google-auth, google-api-core and botocore are
optional extras that may not be importable here. An OS error raised in a Beam worker may come
back re-raised with its message only ("[Errno 28] ..."), so the errno is read from the text too.
"""

from __future__ import annotations

import contextlib
import errno
import re
from typing import Iterator, Optional

from .errors import BuildError

GCS_CREDENTIALS_HINT = ("run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS "
                        "to a service-account key file")
S3_CREDENTIALS_HINT = ("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or pass "
                       "--s3_access_key_id/--s3_secret_access_key")
GOOGLE_AUTH_ERRORS = {"DefaultCredentialsError", "RefreshError"}
GOOGLE_DENIED_ERRORS = {"Unauthorized", "Forbidden"}
BOTOCORE_CREDENTIAL_ERRORS = {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError",
                              "NoAuthTokenError", "UnauthorizedSSOTokenError", "TokenRetrievalError"}
S3_REFUSED_MARKERS = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "AccessDenied")
S3_MISSING_MARKERS = ("Unable to locate credentials", "Partial credentials found")


# errno → (what happened, what to do)
DISK_ERRORS = {
    errno.ENOSPC: ("no space left on the device", "free space there or write elsewhere"),
    errno.EDQUOT: ("disk quota exceeded", "free space there or write elsewhere"),
    errno.EROFS: ("the file system is read-only", "write elsewhere"),
    errno.EACCES: ("permission denied", "fix the permissions or write elsewhere"),
    errno.EPERM: ("operation not permitted", "fix the permissions or write elsewhere"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "choose a folder"),
}
_ERRNO_IN_TEXT = re.compile(r"\[Errno (\d+)\]")


def _errno_of(e: BaseException) -> Optional[int]:
    if isinstance(e, OSError) and e.errno:
        return e.errno
    found = _ERRNO_IN_TEXT.search(str(e)) if isinstance(e, (OSError, RuntimeError, ValueError)) else None
    return int(found.group(1)) if found else None


def _chain(exc: BaseException, path: str) -> Iterator[tuple[BaseException, str]]:
    """Every exception reachable from ``exc``, with the path Beam reported it for."""
    seen, todo = set(), [(exc, path)]
    while todo:
        e, where = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e, where
        details = getattr(e, "exception_details", None)
        if isinstance(details, dict):
            todo.extend((v, str(k)) for k, v in details.items() if isinstance(v, BaseException))
        todo.extend((v, where) for v in (e.__cause__, e.__context__) if v is not None)
        todo.extend((a, where) for a in getattr(e, "args", ()) if isinstance(a, BaseException))


def _module_and_name(e: BaseException) -> tuple[str, str]:
    return type(e).__module__ or "", type(e).__name__


def _explain_one(e: BaseException, where: str) -> Optional[str]:
    module, name = _module_and_name(e)
    text = " ".join(str(getattr(e, "message", None) or e).split())[:200]
    if module.startswith("google.auth") and name in GOOGLE_AUTH_ERRORS:
        return f"{where}: no usable Google Cloud credentials ({name}: {text}); {GCS_CREDENTIALS_HINT}"
    if module.startswith("google.api_core") and name in GOOGLE_DENIED_ERRORS:
        if "anonymous caller" in text.lower():
            return (f"{where}: no Google Cloud credentials found (Beam fell back to anonymous access); "
                    f"{GCS_CREDENTIALS_HINT}")
        return f"{where}: access refused ({name}: {text}); check the bucket's permissions for your account"
    if module.startswith("botocore") and name in BOTOCORE_CREDENTIAL_ERRORS:
        return f"{where}: no usable AWS credentials ({name}: {text}); {S3_CREDENTIALS_HINT}"
    if name == "S3ClientError":
        if any(m in text for m in S3_MISSING_MARKERS):
            return f"{where}: no AWS credentials found ({text}); {S3_CREDENTIALS_HINT}"
        if getattr(e, "code", None) in (401, 403) or any(m in text for m in S3_REFUSED_MARKERS):
            return f"{where}: AWS refused the request ({text}); check the credentials and the bucket's permissions"
    code = _errno_of(e)
    if code in DISK_ERRORS:
        what, todo = DISK_ERRORS[code]
        at = getattr(e, "filename", None) or where
        return f"{at}: {what}; {todo}"
    if isinstance(e, AssertionError) and "Missing boto3" in text:
        return f"{where}: s3:// needs boto3: pip install 'c4forge[aws]'"
    if isinstance(e, ValueError) and "Unable to get filesystem" in text:
        extra = {"gs": "gcp", "s3": "aws"}.get(where.split("://", 1)[0] if "://" in where else "", None)
        if extra:
            return f"{where}: no Beam filesystem for this scheme: pip install 'c4forge[{extra}]'"
    return None


def explain_access_error(exc: BaseException, path: str) -> Optional[str]:
    """A one-line message if ``exc`` (or anything in its chain) is a credentials, missing-extra
    or disk problem, else None."""
    for e, where in _chain(exc, path):
        message = _explain_one(e, where)
        if message:
            return message
    return None


@contextlib.contextmanager
def explained_access_errors(path: str) -> Iterator[None]:
    """Turns credentials, missing-extra and disk errors raised inside into a BuildError about ``path``."""
    try:
        yield
    except BuildError:
        raise
    except Exception as e:  # noqa: BLE001 - re-raised unless recognised
        message = explain_access_error(e, path)
        if message is None:
            raise
        raise BuildError(message) from e
