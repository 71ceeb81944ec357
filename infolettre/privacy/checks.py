from django.core import checks

from .declaration import check_declaration_complete


@checks.register()
def personal_data_declaration(app_configs, **kwargs):
    """Refuse to start while a model or field is missing from the personal-data declaration."""
    return [checks.Error(problem, id="privacy.E001") for problem in check_declaration_complete()]
