from django.core import checks

from .declaration import check_declaration_complete


@checks.register()
def personal_data_declaration(app_configs, **kwargs):
    """Refuse to start while a model or field is missing from the personal-data declaration."""
    return [checks.Error(problem, id="privacy.E001") for problem in check_declaration_complete()]


@checks.register()
def confidential_fields_encrypted(app_configs, **kwargs):
    """Refuse to start while a confidential field is stored in clear, or a key does not parse."""
    from .encryption import check_confidential_encrypted, check_keys

    found = [
        checks.Error(problem, id="privacy.E002") for _, problem in check_confidential_encrypted()
    ]
    return found + [checks.Error(problem, id="privacy.E003") for problem in check_keys()]
