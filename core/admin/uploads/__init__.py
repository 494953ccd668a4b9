"""Stage uploaded files (name + bytes) as files on disk, safely: names sanitised, types sniffed, ZIPs checked."""

from core.admin.uploads.limits import Refused, StagedUploads, UploadLimits
from core.admin.uploads.staging import stage_uploads

__all__ = ["Refused", "StagedUploads", "UploadLimits", "stage_uploads"]
