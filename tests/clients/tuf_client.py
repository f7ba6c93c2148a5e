"""A plain python-tuf client (ngclient.Updater), as a site's updater would
use it: bootstrap from a trusted root.json, refresh, download one target.

usage: tuf_client.py BASE_URL ROOT_JSON TARGET_PATH WORK_DIR
Exit 0 and print the downloaded file's path; exit 1 on any refusal.
"""
import os
import sys

from tuf.ngclient import Updater


def main() -> int:
    base, root_json, target, work = sys.argv[1:5]
    metadata_dir = os.path.join(work, "metadata")
    targets_dir = os.path.join(work, "targets")
    os.makedirs(metadata_dir, exist_ok=True)
    os.makedirs(targets_dir, exist_ok=True)
    with open(root_json, "rb") as f:
        bootstrap = f.read()
    updater = Updater(
        bootstrap=bootstrap,
        metadata_dir=metadata_dir,
        metadata_base_url=base.rstrip("/") + "/tuf/",
        target_base_url=base.rstrip("/") + "/",
        target_dir=targets_dir,
    )
    try:
        updater.refresh()
        info = updater.get_targetinfo(target)
        if info is None:
            print(f"{target}: not in the targets metadata", file=sys.stderr)
            return 1
        path = updater.download_target(info)
    except Exception as e:  # every refusal of the client
        print(f"refused: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
