"""Who may read the data root: its owner only (folders 0700, files 0600) unless RUGS_DATA_MODE says
otherwise. The data holds authenticated playerUpdate payloads (wallet ids, cash, PnL), so private is
the default. Every folder and file the store creates gets these modes explicitly (not via the umask,
which could widen or narrow them)."""

from __future__ import annotations

import os

DATA_MODE_ENV = "RUGS_DATA_MODE"
DEFAULT_DIR_MODE = 0o700


class DataModeError(ValueError):
    pass


def dir_mode() -> int:
    """The folder mode: RUGS_DATA_MODE as octal (e.g. 0750), default 0700. The owner always keeps rwx."""
    text = os.environ.get(DATA_MODE_ENV, "").strip()
    if not text:
        return DEFAULT_DIR_MODE
    try:
        mode = int(text, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777 or mode & 0o700 != 0o700:
        raise DataModeError(f"{DATA_MODE_ENV}={text!r} is not a folder mode like 0700 or 0750 "
                            f"(octal, the owner keeping rwx): fix or unset it")
    return mode


def file_mode() -> int:
    """The file mode: the folder mode without execute bits (0700 -> 0600, 0750 -> 0640)."""
    return dir_mode() & 0o666


def open_private(path: os.PathLike | str, flags: int) -> int:
    """os.open with the data root's file mode; a file created here gets exactly that mode."""
    mode = file_mode()
    fd = os.open(path, flags, mode)
    if flags & os.O_CREAT:
        try:
            if os.fstat(fd).st_mode & 0o777 != mode:  # the umask changed it, or an older version made it
                os.fchmod(fd, mode)
        except PermissionError:  # someone else's file: leave its mode alone
            pass
        except OSError:
            os.close(fd)
            raise
    return fd
