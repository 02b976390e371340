"""Reference import a municipality might write instead of werkbrug: pandas + openpyxl + COPY.

    python pandas_import.py EXPORT.xlsx postgresql://postgres@127.0.0.1:5432/DB

Reads the municipality's export (sheet "Deelnemers", title row and blank row above the
headers) with ``pandas.read_excel`` (openpyxl engine), every cell as text, and loads it into one
table ``deelnemers`` (one text column per header, replaced on each run) with PostgreSQL's COPY —
the fastest way pandas' ecosystem offers to get a frame into PostgreSQL (``to_sql`` inserts
rows and is several times slower). It does none of what werkbrug does besides: no validation,
no BSN check or encryption, no linking across sources, no provenance, one table instead of
seven. Prints rows and seconds per phase.
"""

import io
import sys
import time

import pandas as pd
import psycopg


def main() -> None:
    path, url = sys.argv[1], sys.argv[2]
    started = time.perf_counter()
    frame = pd.read_excel(
        path, sheet_name="Deelnemers", header=2, dtype=str, engine="openpyxl"
    )
    read = time.perf_counter()
    columns = ", ".join('"' + str(c).replace('"', '""') + '" text' for c in frame.columns)
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS deelnemers")
            cur.execute(f"CREATE TABLE deelnemers ({columns})")
            buffer = io.StringIO()
            frame.to_csv(buffer, index=False, header=False)
            buffer.seek(0)
            with cur.copy("COPY deelnemers FROM STDIN WITH (FORMAT csv)") as copy:
                while chunk := buffer.read(1 << 20):
                    copy.write(chunk)
            cur.execute("SELECT count(*) FROM deelnemers")
            (rows,) = cur.fetchone()
    done = time.perf_counter()
    print(
        f"rows: {rows}  read_excel: {read - started:.1f}s  copy: {done - read:.1f}s  "
        f"total: {done - started:.1f}s"
    )
    if rows != len(frame):
        sys.exit(f"loaded {rows} rows of {len(frame)}")


if __name__ == "__main__":
    main()
