"""The object stores a shared cache can live on, reached through fsspec and the store's own backend.

`cache_url: s3://bucket/prefix` (s3fs), `gs://bucket/prefix` (gcsfs) or `az://container/prefix`
(adlfs), each an optional extra. Credentials come from the backend's standard chain only: AWS's
environment, profile and instance role (botocore); Google's Application Default Credentials; Azure's
AZURE_STORAGE_* variables, else DefaultAzureCredential (adlfs). Nothing about them is configured in
mkdocs.yml, and no error text of a backend is repeated (it may quote an endpoint with a token).

Plain reads, writes and listings go through fsspec. Leases need three conditional operations on one
object, which each store offers with its own condition; every one is passed through the backend's
documented call, and each returns None or False when its condition does not hold:

    create(path, data)            S3 and Azure `If-None-Match: *`, GCS `ifGenerationMatch=0`
    replace(path, data, version)  S3 and Azure `If-Match: <etag>`, GCS `ifGenerationMatch=<generation>`
    delete(path, version)         the same condition on a DELETE
"""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass
from typing import Any

from mkdocs_imagegen.errors import StoreSetupError

EXTRAS = {"s3": ("s3fs", "s3"), "gs": ("gcsfs", "gcs"), "az": ("adlfs", "azure")}
CONNECT_TIMEOUT = 5  # seconds: an unreachable store is found at the build's first look, not minutes later


def split_url(url: str) -> tuple[str, str]:
    """(scheme, "bucket/prefix") of a cache_url; StoreSetupError names what is wrong."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in EXTRAS:
        raise StoreSetupError(f"cache_url '{url}' is not an s3://, gs:// or az:// URL"
                              " (see docs: troubleshooting#cache-url)")
    root = rest.strip("/")
    if not root or root.split("/", 1)[0] in ("", ".", ".."):
        raise StoreSetupError(f"cache_url '{url}' names no bucket or container (see docs: troubleshooting#cache-url)")
    if any(part in (".", "..") for part in root.split("/")):
        raise StoreSetupError(f"cache_url '{url}' has a '.' or '..' in its path (see docs: troubleshooting#cache-url)")
    return scheme, root


def _precondition_failed(error: BaseException) -> bool:
    """s3fs maps a 412 to FileExistsError for If-None-Match and to EINVAL for If-Match."""
    return isinstance(error, FileExistsError) or (isinstance(error, OSError) and error.errno == errno.EINVAL)


@dataclass
class Backend:
    """An fsspec filesystem and where the cache lives in it, with the conditional writes leases need."""

    scheme: str
    fs: Any
    root: str  # bucket/prefix, no slash at either end
    # Seconds one operation (listing, look-up, read, write, lease step) may take in all (headers and body, every
    # retry): the backends' own timeouts are per socket read, so a store trickling bytes, or taking an upload a
    # byte at a time, would hold a build for ever.
    deadline: float

    def path(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def _bounded(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        """One of the filesystem's coroutines, cancelled at `deadline` (fsspec's FSTimeoutError)."""
        from fsspec.asyn import sync

        return sync(self.fs.loop, call, *args, timeout=self.deadline, **kwargs)

    # Plain operations, the same for every store through fsspec.

    def names(self, relative: str) -> set[str]:
        """The object names directly under a folder of the cache (empty if it has none yet)."""
        try:
            listed = self._bounded(self.fs._ls, self.path(relative), detail=False, refresh=True)
        except FileNotFoundError:
            return set()
        return {str(name).rstrip("/").rsplit("/", 1)[-1] for name in listed}

    def size(self, relative: str) -> int | None:
        try:
            info = self._bounded(self.fs._info, self.path(relative), refresh=True)
        except FileNotFoundError:
            return None
        return int(info.get("size") or 0) if info.get("type", "file") == "file" else None

    def read(self, relative: str, limit: int) -> bytes:
        """At most `limit` + 1 bytes of an object (so a caller can tell it is too big)."""
        return bytes(self._bounded(self.fs._cat_file, self.path(relative), start=0, end=limit + 1))

    def write(self, relative: str, data: bytes) -> None:
        """One PUT: the store makes the object visible whole, or not at all."""
        self._bounded(self.fs._pipe_file, self.path(relative), data)

    # Conditional operations, per store.

    def create(self, relative: str, data: bytes) -> str | None:
        """Write the object only if there is none: its version, or None if one exists."""
        path = self.path(relative)
        try:
            result = self._bounded(self.fs._pipe_file, path, data, mode="create")
        except Exception as error:
            if _precondition_failed(error):
                return None
            raise
        return self._new_version(relative, result)

    def replace(self, relative: str, data: bytes, version: str) -> str | None:
        """Overwrite the object only if it is still at `version`: the new version, or None."""
        path = self.path(relative)
        try:
            if self.scheme == "s3":
                result = self._bounded(self.fs._pipe_file, path, data, IfMatch=version)
            elif self.scheme == "az":
                from azure.core import MatchConditions

                result = self._bounded(self.fs._pipe_file, path, data, etag=version,
                                       match_condition=MatchConditions.IfNotModified)
            else:
                result = self._bounded(_gcs_upload, self.fs, path, data, version)
        except Exception as error:
            if _precondition_failed(error) or _is_azure_condition(error) or isinstance(error, FileNotFoundError):
                return None
            raise
        return self._new_version(relative, result)

    def _new_version(self, relative: str, result: object) -> str | None:
        """What a write answered as the object's version: the ETag for S3 and Azure; for GCS the
        generation, which its answer does not always carry, so it is asked for (the holder's own
        object: no other machine writes it meanwhile)."""
        if self.scheme != "gs":
            version = _version_of(result)
            if version is not None:
                return version
        return self.version(relative)

    def delete(self, relative: str, version: str) -> bool:
        """Delete the object only if it is still at `version`."""
        path = self.path(relative)
        bucket, key = path.split("/", 1)
        try:
            if self.scheme == "s3":
                self._bounded(self.fs._call_s3, "delete_object", Bucket=bucket, Key=key, IfMatch=version)
            elif self.scheme == "az":
                self._bounded(_azure_delete, self.fs, bucket, key, version)
            else:
                self._bounded(self.fs._call, "DELETE", "b/{}/o/{}", bucket, key, ifGenerationMatch=version)
        except Exception as error:
            if _precondition_failed(error) or _is_azure_condition(error) or isinstance(error, FileNotFoundError):
                return False
            raise
        return True

    def version(self, relative: str) -> str | None:
        """The object's current version (ETag, or GCS generation), or None if there is none."""
        path = self.path(relative)
        bucket, key = path.split("/", 1)
        try:
            if self.scheme == "s3":
                return str(self._bounded(self.fs._call_s3, "head_object", Bucket=bucket, Key=key)["ETag"])
            if self.scheme == "az":
                return self._bounded(_azure_etag, self.fs, bucket, key)
            info = self._bounded(self.fs._info, path, refresh=True)
            return str(info["generation"])
        except FileNotFoundError:
            return None
        except Exception as error:
            if _is_azure_missing(error):
                return None
            raise


def _version_of(result: object) -> str | None:
    if isinstance(result, dict):
        for name in ("ETag", "etag"):
            if result.get(name):
                return str(result[name])
    return None


def _is_azure_condition(error: BaseException) -> bool:
    return type(error).__name__ in ("ResourceModifiedError", "ResourceExistsError", "ResourceNotFoundError")


def _is_azure_missing(error: BaseException) -> bool:
    return type(error).__name__ == "ResourceNotFoundError"


def _azure_blob(fs: Any, container: str, blob: str):  # noqa: ANN202 - an async context manager
    return fs.service_client.get_blob_client(container=container, blob=blob)


async def _azure_delete(fs: Any, container: str, blob: str, etag: str) -> None:
    from azure.core import MatchConditions

    async with _azure_blob(fs, container, blob) as client:
        await client.delete_blob(etag=etag, match_condition=MatchConditions.IfNotModified)


async def _azure_etag(fs: Any, container: str, blob: str) -> str:
    async with _azure_blob(fs, container, blob) as client:
        return str((await client.get_blob_properties()).etag)


async def _gcs_upload(fs: Any, path: str, data: bytes, generation: str) -> dict[str, Any]:
    """A multipart upload (the JSON API's objects.insert) with `ifGenerationMatch`, through gcsfs's own
    request call: its pipe_file takes no condition but `mode="create"`."""
    import json
    import secrets
    from urllib.parse import quote

    bucket, key = path.split("/", 1)
    boundary = f"imagegen-{secrets.token_hex(8)}"
    head = (f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{json.dumps({'name': key})}\r\n"
            f"--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n")
    body = head.encode() + data + f"\r\n--{boundary}--".encode()
    return await fs._call("POST", f"{fs._location}/upload/storage/v1/b/{quote(bucket)}/o", uploadType="multipart",
                          ifGenerationMatch=generation,
                          headers={"Content-Type": f'multipart/related; boundary="{boundary}"'}, data=body,
                          json_out=True)


def _quiet(loop: Any, context: dict[str, Any]) -> None:
    """A task of the backend's event loop that failed with no one awaiting it (a connection cut mid-request
    as the store went away): the call that needed it already failed and was reported, so no traceback."""
    error = context.get("exception")
    logging.getLogger("mkdocs.plugins.imagegen").debug("imagegen: shared cache: %s (%s)", context.get("message"),
                                                       type(error).__name__ if error else "no exception")


def _briefly_retrying(client: Any) -> Any:
    """The same account and credential adlfs chose, with retries that give up in seconds: the SDK's
    default (15 s, then 18 s, then 24 s between tries) kept an unreachable store's build waiting 81 s."""
    from azure.storage.blob.aio import BlobServiceClient, ExponentialRetry

    return BlobServiceClient(account_url=client.url, credential=client.credential,
                             retry_policy=ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=2))


def open_backend(url: str, deadline: float) -> Backend:
    """The store a cache_url names; StoreSetupError when its extra is missing. Connects lazily."""
    scheme, root = split_url(url)
    module, extra = EXTRAS[scheme]
    try:
        __import__(module)
    except ImportError:
        raise StoreSetupError(f"cache_url '{url}' needs {module}: pip install 'mkdocs-imagegen[{extra}]'"
                              " (see docs: troubleshooting#cache-url)") from None
    import fsspec

    options: dict[str, Any] = {"skip_instance_cache": True, "use_listings_cache": False}
    if scheme == "s3":
        options.update(config_kwargs={"connect_timeout": CONNECT_TIMEOUT, "read_timeout": 60,
                                      "retries": {"max_attempts": 3, "mode": "standard"}})
    elif scheme == "az":
        options.update(connection_timeout=CONNECT_TIMEOUT, read_timeout=60)
    if scheme == "gs":  # gcsfs's plain filesystem: its "extended" one probes each bucket for zonal storage
        from gcsfs.core import GCSFileSystem

        fs = GCSFileSystem(**options)
    else:
        fs = fsspec.filesystem(scheme, **options)
    fs.loop.set_exception_handler(_quiet)
    if scheme == "s3":
        fs.retries = 2  # s3fs's own retries of what botocore already retried (its default is 5)
    elif scheme == "az":
        fs.service_client = _briefly_retrying(fs.service_client)
    return Backend(scheme, fs, root, deadline)

