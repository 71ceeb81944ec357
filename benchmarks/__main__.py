"""`make bench`: print the figures of each benchmark on a fresh database (DATABASE_URL, else SQLite)."""

import os
import sys
import tempfile


def main():
    with tempfile.TemporaryDirectory() as folder:
        os.environ.setdefault("DATABASE_URL", f"sqlite:///{folder}/bench.sqlite3")
        os.environ["DJANGO_SETTINGS_MODULE"] = "infolettre.settings.bench"
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from benchmarks import (
            accounts,
            admin_scale,
            audience_import,
            audience_segments,
            campaigns_send,
        )

        names = sys.argv[1:]
        for module in (accounts, audience_segments, audience_import, campaigns_send):
            if not names or module.__name__.rsplit(".", 1)[-1] in names:
                module.run()
        # Minutes of filling and a database of its own: only when named.
        if "admin_scale" in names:
            admin_scale.run()


if __name__ == "__main__":
    main()
