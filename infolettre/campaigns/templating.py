"""Client-written templates, rendered in Jinja2's sandbox: no Python internals, no file system.

A campaign is compiled once and rendered once per recipient, so the costly work happens when it is
compiled: the rules of its <style> blocks are inlined into style attributes, and a plain-text twin
of the template is derived from the HTML. Both are done on a copy of the source in which every Jinja
construct stands as an opaque token (an HTML comment in text, a word inside an attribute), so that
the HTML tools cannot break or move it. When a construct sits where no token survives (between a
tag's attributes, inside <style> or <script>), or a check shows a token moved, that template is
inlined and converted per recipient from the rendered HTML instead: slower, never wrong.

A missing value (a contact without the attribute a template names) renders as nothing, so one
contact's data never stops a campaign; a syntax error, an unknown name or a reach for Python
internals is refused when the template is saved (`check_template`).
"""

import html as html_module
import operator
import re
import secrets
import traceback
from dataclasses import dataclass
from functools import cache, lru_cache, wraps

import css_inline
import lxml.html
from django.utils.html import escape
from django.utils.translation import gettext as _
from inscriptis.css_profiles import STRICT_CSS_PROFILE
from inscriptis.html_engine import Inscriptis
from inscriptis.model.config import ParserConfig
from inscriptis.model.tag import CustomHtmlTagHandlerMapping
from jinja2 import ChainableUndefined, TemplateSyntaxError, meta, nodes
from jinja2.compiler import CodeGenerator
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.filters import FILTERS
from jinja2.sandbox import ImmutableSandboxedEnvironment
from lxml import etree
from markupsafe import Markup

from .errors import TemplateError

FOOTER_PLACEHOLDER = "footer"
# The names a template may use, besides Jinja's own globals (range, cycler, namespace…).
CONTEXT_NAMES = frozenset(("contact", "organisation", "campaign", "unsubscribe_url", "footer"))
MAX_TEMPLATE_CHARS = 300_000
MAX_SUBJECT_CHARS = 300
# A string or list built by the template (`'x' * n`, `x ** n`) may not grow past this.
MAX_BUILT_SIZE = 100_000


# The sandbox -------------------------------------------------------------------------------------


class Blank(ChainableUndefined):
    """A missing value: renders as nothing, and so does anything asked of it."""

    __slots__ = ()

    def __call__(self, *args, **kwargs):
        return self


_COMPARISONS = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gteq": operator.ge,
    "lt": operator.lt,
    "lteq": operator.le,
    "in": lambda a, b: a in b,
    "notin": lambda a, b: a not in b,
}


class _Compiler(CodeGenerator):
    """Send comparisons through the environment, so that comparing unlike values is just false;
    and joins (`a ~ b`), so that a template cannot double a string until the server runs out of
    memory."""

    def visit_Concat(self, node, frame):
        self.write("environment.check_built(")
        super().visit_Concat(node, frame)
        self.write(")")

    def visit_Compare(self, node, frame):
        self.write("environment.call_compare(")
        self.visit(node.expr, frame)
        for op in node.ops:
            self.write(f", {op.op!r}, ")
            self.visit(op.expr, frame)
        self.write(")")


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's sandbox, with no loader (no include, import or extends) and lenient arithmetic.

    Reaching an unsafe attribute raises at once instead of rendering as nothing, so that a template
    trying it is refused with a message rather than silently emptied.
    """

    code_generator_class = _Compiler
    intercepted_binops = frozenset(("+", "-", "*", "/", "//", "%", "**"))

    def __init__(self, **options):
        super().__init__(
            loader=None, undefined=Blank, finalize=_finalize, auto_reload=False, **options
        )
        for name in ("center", "indent", "format", "wordwrap", "truncate"):
            self.filters[name] = _guard_widths(self.filters[name])

    def getattr(self, obj, attribute):
        # The context is plain dicts: a key first (as obj[key] would give, which the sandbox allows)
        # spares a failed attribute lookup per value, once per recipient.
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)

    def unsafe_undefined(self, obj, attribute):
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe."
        )

    def check_built(self, value):
        if len(value) > MAX_BUILT_SIZE:
            raise SecurityError("the result would be too large.")
        return value

    def call(__self, __context, __obj, *args, **kwargs):
        # A width or count past the largest result ('x'.ljust(10**9), '{:>999999999}'.format…)
        # would build it first.
        if isinstance(getattr(__obj, "__self__", None), str):
            _check_counts(args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value):
        # str.format and format_map of a template: a field wider than any result is refused.
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _check_counts((value.__self__,), {})
        return wrapped

    def call_binop(self, context, operator, left, right):
        if operator in ("*", "**", "+", "%"):
            _check_size(operator, left, right)
        try:
            return self.binop_table[operator](left, right)
        except (TypeError, ValueError, ArithmeticError, UndefinedError):
            # Arithmetic on a missing or unlike value (an attribute imported as text): nothing.
            return self.undefined()

    def call_compare(self, left, *pairs):
        for index in range(0, len(pairs), 2):
            op, right = pairs[index], pairs[index + 1]
            try:
                if not _COMPARISONS[op](left, right):
                    return False
            except (TypeError, ValueError, UndefinedError):
                return False
            left = right
        return True


def _finalize(value):
    return "" if value is None else value


_FORMAT_WIDTH = re.compile(r"%[-#0 +]*(\d+)?(?:\.(\d+))?")
_FORMAT_BRACES_WIDTH = re.compile(r"\{[^{}]*:[^{}]*?(\d+)(?:\.(\d+))?[^{}]*\}")


def _too_wide(text):
    """Whether a printf-style or str.format pattern asks for a field wider than any result."""
    widths = _FORMAT_WIDTH.findall(text) + _FORMAT_BRACES_WIDTH.findall(text)
    return any(int(n) > MAX_BUILT_SIZE for pair in widths for n in pair if n)


def _check_counts(args, kwargs):
    for value in (*args, *kwargs.values()):
        if (isinstance(value, int) and not isinstance(value, bool) and value > MAX_BUILT_SIZE) or (
            isinstance(value, str) and _too_wide(value)
        ):
            raise SecurityError("the result would be too large.")


def _guard_widths(function):
    """A filter whose arguments after the value (a width, a format) may not exceed the limit."""

    @wraps(function)
    def guarded(value, *args, **kwargs):
        if function is FILTERS["format"]:
            # Only the pattern's widths matter: the values formatted may be any number.
            _check_counts((value,), {})
        else:
            _check_counts(args, kwargs)
        return function(value, *args, **kwargs)

    return guarded


def _check_size(op, left, right):
    if op == "+":
        if (
            isinstance(left, (str, list, tuple))
            and isinstance(right, (str, list, tuple))
            and len(left) + len(right) > MAX_BUILT_SIZE
        ):
            raise SecurityError("the result would be too large.")
        return
    if op == "%":
        if isinstance(left, str) and _too_wide(left):
            raise SecurityError("the result would be too large.")
        return
    if op == "*":
        for sized, count in ((left, right), (right, left)):
            if (
                isinstance(sized, (str, list, tuple))
                and isinstance(count, int)
                and len(sized) * count > MAX_BUILT_SIZE
            ):
                raise SecurityError("the result would be too large.")
    elif (
        isinstance(left, (int, float))
        and isinstance(right, (int, float))
        and abs(left) > 1
        and right > 64
    ):
        raise SecurityError("the result would be too large.")


@cache
def html_environment():
    return _Sandbox(autoescape=True)


@cache
def text_environment():
    # Statements of the derived text template stand on their own lines; these keep them from
    # leaving blank lines behind.
    return _Sandbox(autoescape=False, trim_blocks=True, lstrip_blocks=True)


# Reading a template's source ---------------------------------------------------------------------

_CONSTRUCT_START = re.compile(r"\{[{%#]")
_RAW_START = re.compile(r"\{%[-+]?\s*raw\s*[-+]?%\}")
_RAW_END = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}")
_STATEMENT_WORD = re.compile(r"\{%[-+]?\s*(\w+)")
_OPENERS = frozenset(
    ("if", "for", "macro", "call", "filter", "block", "with", "autoescape", "trans")
)
_FOOTER_ALONE = re.compile(r"\{\{[-+]?\s*footer\s*[-+]?\}\}")
_NAMES_FOOTER = re.compile(r"\bfooter\b")
_TAG_OPEN = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)")
_TAG_STOP = re.compile(r"[\"'>]")
# Elements whose content is not HTML: a token there is text to them (title) or code (style).
_RCDATA = frozenset(("title", "textarea"))
_RAWTEXT = frozenset(("style", "script", "xmp", "iframe", "noembed", "noframes"))


@dataclass(slots=True)
class Piece:
    """A stretch of a template's source: HTML data, or one Jinja construct and where it sits."""

    kind: str  # data, expr ({{ }}), stmt ({% %}), note ({# #}) or raw ({% raw %} … {% endraw %})
    text: str
    context: str = ""  # text, attr, tag, comment, rcdata or rawtext: the HTML around a construct
    depth: int = 0  # how many Jinja blocks enclose it
    attribute: str = ""  # the attribute whose value holds it, in the attr context


class _HtmlPosition:
    """Where the HTML stands between the constructs: enough to know what a token would become."""

    def __init__(self):
        self.state = "text"
        self.tag = ""
        self.end_tag = False
        self.last = ""
        self.in_tag = ""  # what the open tag says so far, for the attribute a value belongs to
        self.attribute = ""
        self.body_ends = []  # offsets of top-level </body> tags

    def context(self):
        if self.state == "tag":
            return "attr" if self.last == "=" else "tag"
        if self.state in ("dq", "sq"):
            return "attr"
        if self.state == "raw":
            return "rcdata" if self.tag in _RCDATA else "rawtext"
        return self.state  # text or comment

    def attribute_at(self):
        if self.state == "tag" and self.last == "=":
            self.attribute = _attribute_before(self.in_tag)
        return self.attribute if self.context() == "attr" else ""

    def after_construct(self):
        if self.state == "tag":
            self.last = "x"
            self.in_tag += "x"

    def feed(self, data, offset, depth):
        i, n = 0, len(data)
        while i < n:
            if self.state == "text":
                j = data.find("<", i)
                if j < 0:
                    return
                if data.startswith("<!--", j):
                    self.state, i = "comment", j + 4
                    continue
                match = _TAG_OPEN.match(data, j)
                if match:
                    self.state, self.tag, self.end_tag = "tag", match[2].lower(), bool(match[1])
                    self.last = self.in_tag = ""
                    if self.end_tag and self.tag == "body" and depth == 0:
                        self.body_ends.append(offset + j)
                    i = match.end()
                elif data.startswith(("<!", "<?"), j):
                    self.state, self.tag, self.end_tag, self.last = "tag", "!", False, ""
                    self.in_tag = ""
                    i = j + 2
                else:
                    i = j + 1
            elif self.state == "tag":
                match = _TAG_STOP.search(data, i)
                stop = match.start() if match else n
                self.in_tag += data[i:stop]
                stripped = data[i:stop].rstrip()
                if stripped:
                    self.last = stripped[-1]
                if not match:
                    return
                if match[0] == ">":
                    raw = not self.end_tag and (self.tag in _RCDATA or self.tag in _RAWTEXT)
                    self.state = "raw" if raw else "text"
                else:
                    self.state = "dq" if match[0] == '"' else "sq"
                    self.attribute = _attribute_before(self.in_tag)
                i = match.end()
            elif self.state in ("dq", "sq"):
                j = data.find('"' if self.state == "dq" else "'", i)
                if j < 0:
                    return
                self.state, self.last, i = "tag", '"', j + 1
                self.in_tag += '""'
            elif self.state == "comment":
                j = data.find("-->", i)
                if j < 0:
                    return
                self.state, i = "text", j + 3
            else:  # raw: until this element's end tag
                match = re.compile("</" + re.escape(self.tag), re.IGNORECASE).search(data, i)
                if not match:
                    return
                self.state, self.end_tag, self.last, i = "tag", True, "", match.end()


_ATTRIBUTE_BEFORE = re.compile(r"([^\s\"'<>/=]+)\s*=\s*$")


def _attribute_before(tag_text):
    match = _ATTRIBUTE_BEFORE.search(tag_text)
    return match[1].lower() if match else ""


def _construct_end(source, start, closer):
    """Where a {{ … }} or {% … %} ends, skipping strings and nested brackets as Jinja's lexer does."""
    i, depth, quote, n = start + 2, 0, None, len(source)
    while i < n:
        char = source[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif depth == 0 and source.startswith(closer, i):
            return i + 2
        elif char in ")]}":
            depth = max(depth - 1, 0)
        i += 1
    return -1


def split_source(source):
    """Cut a template's source into data and constructs; return (pieces, top-level </body> offsets).

    The source is assumed to compile; on anything this reader does not follow it returns None.
    """
    pieces, html, depth, i = [], _HtmlPosition(), 0, 0
    while True:
        match = _CONSTRUCT_START.search(source, i)
        data_end = match.start() if match else len(source)
        if data_end > i:
            pieces.append(Piece("data", source[i:data_end]))
            html.feed(source[i:data_end], i, depth)
        if not match:
            return pieces, html.body_ends
        start = match.start()
        raw = _RAW_START.match(source, start)
        if raw:
            end_match = _RAW_END.search(source, raw.end())
            if not end_match:
                return None
            kind, end = "raw", end_match.end()
        elif match[0] == "{#":
            end = source.find("#}", start + 2)
            kind, end = "note", (end + 2 if end >= 0 else -1)
        else:
            kind = "expr" if match[0] == "{{" else "stmt"
            end = _construct_end(source, start, "}}" if kind == "expr" else "%}")
        if end < 0:
            return None
        text = source[start:end]
        if kind == "stmt":
            word = _STATEMENT_WORD.match(text)
            word = word[1] if word else ""
            if word.startswith("end"):
                depth = max(depth - 1, 0)
        pieces.append(Piece(kind, text, html.context(), depth, html.attribute_at()))
        if kind == "stmt" and (word in _OPENERS or (word == "set" and "=" not in text)):
            depth += 1
        html.after_construct()
        i = end


def with_footer_placeholder(source):
    """The source with a {{ footer }} before </body> (or at the end) unless one stands on its own.

    Only a plain {{ footer }} in the message's text, outside any block, counts: one inside an
    {% if %}, a comment or a tag does not, and the footer is added as if it were absent.
    """
    split = split_source(source)
    if split is None:
        return source
    pieces, body_ends = split
    if any(
        p.kind == "expr"
        and p.context == "text"
        and p.depth == 0
        and _FOOTER_ALONE.fullmatch(p.text)
        for p in pieces
    ):
        return source
    at = body_ends[-1] if body_ends else len(source)
    return source[:at] + "{{ footer }}" + source[at:]


# HTML tools: CSS inlining and the text alternative -----------------------------------------------


@cache
def _inliner():
    # Remote stylesheets are never fetched (a template must not make the server reach a URL);
    # @media rules stay in a <style> block, as only a mail client can apply them.
    return css_inline.CSSInliner(
        keep_at_rules=True, load_remote_stylesheets=False, keep_link_tags=False
    )


def inline_css(html):
    return _inliner().inline(html)


def _link_start(state, attrs):
    href = (attrs.get("href") or "").strip()
    state.link_target = "" if not href or href.startswith("#") else href.removeprefix("mailto:")


def _link_end(state):
    if state.link_target:
        state.tags[-1].write(f" ({state.link_target})")


@cache
def _text_config():
    return ParserConfig(
        # Firefox's defaults: a <div> adds no indentation.
        css=STRICT_CSS_PROFILE.copy(),
        custom_html_tag_handler_mapping=CustomHtmlTagHandlerMapping(
            start_tag_mapping={"a": _link_start}, end_tag_mapping={"a": _link_end}
        ),
    )


def _drop_repeated_links(tree, same):
    """Write a link's address once: not after a link whose text is that address already."""
    for link in tree.iter("a"):
        href = link.get("href")
        if href and same(href.removeprefix("mailto:"), link.text_content().strip()):
            del link.attrib["href"]


def _tree(html):
    html = html.strip()
    if not html:
        return None
    try:
        return lxml.html.document_fromstring(html)
    except etree.ParserError:
        return lxml.html.document_fromstring("<pre>" + html + "</pre>")


_SPACES_BEFORE_NEWLINE = re.compile(r"[ \t\u00a0]+\n")
_BLANK_LINES = re.compile(r"\n{3,}")


def tidy_text(text):
    text = _SPACES_BEFORE_NEWLINE.sub("\n", text + "\n")
    return _BLANK_LINES.sub("\n\n", text).strip() + "\n"


def html_to_text(html):
    """The plain-text alternative of an HTML message: its text, with each link's address after it."""
    tree = _tree(html)
    if tree is None:
        return ""
    _drop_repeated_links(tree, lambda href, text: href == text)
    return tidy_text(Inscriptis(tree, _text_config()).get_text())


@lru_cache(maxsize=256)
def _footer_text(footer_html):
    return html_to_text(footer_html).strip()


_URL_MARK = "INFOLETTREURLMARK"


def footer_text(footer_html, unsubscribe_url):
    """The footer's text form; converted once per organisation, not once per recipient."""
    escaped = escape(unsubscribe_url)
    # A real link is long and unique; a stand-in such as "#" is left in place.
    if len(unsubscribe_url) > 8 and escaped in footer_html:
        return _footer_text(footer_html.replace(escaped, _URL_MARK)).replace(
            _URL_MARK, unsubscribe_url
        )
    return _footer_text(footer_html)


# Deriving the inlined HTML and the text template once --------------------------------------------


_SELECTED_ATTRIBUTES = frozenset(("class", "id"))
_STYLE_CONTENT = re.compile(r"<style\b[^>]*>(.*?)</style", re.DOTALL | re.IGNORECASE)
# Selectors whose match depends on an element's place or attributes, which loops, conditions
# and values in attributes change from one recipient to the next.
_STRUCTURAL_SELECTORS = re.compile(r":(?:nth-|first-|last-|only-|empty)|[+~\[]")


class _Tokens:
    """A template's source with each construct replaced by a token that HTML tools leave alone."""

    def __init__(self, pieces):
        self.nonce = secrets.token_hex(4)
        self.pattern = re.compile(f"<!--J{self.nonce}N(\\d+)Z-->|J{self.nonce}N(\\d+)Z")
        self.bare = re.compile(f"J{self.nonce}N\\d+Z")
        self.constructs, self.in_text, parts = {}, [], []
        self.safe = True
        # Which elements a rule selects must not depend on the recipient for the rules to be
        # inlined once: no construct in a class or id, nor structural selectors with constructs.
        self.dynamic_selection = self.dynamic_structure = False
        for n, piece in enumerate(pieces):
            if piece.kind == "data":
                parts.append(piece.text)
                continue
            if piece.kind == "note":
                continue
            if piece.kind == "raw" or piece.context in ("tag", "rawtext"):
                self.safe = False
            if piece.attribute in _SELECTED_ATTRIBUTES:
                self.dynamic_selection = True
            if piece.kind == "stmt" or piece.context == "attr":
                self.dynamic_structure = True
            token = f"J{self.nonce}N{n}Z"
            self.constructs[n] = piece.text
            if piece.context == "text":
                self.in_text.append(n)
                parts.append(f"<!--{token}-->")
            else:
                parts.append(token)
        self.html = "".join(parts)
        styles = " ".join(_STYLE_CONTENT.findall(self.html))
        self.inline_once = (
            self.safe
            and not self.dynamic_selection
            and not (self.dynamic_structure and _STRUCTURAL_SELECTORS.search(styles))
        )

    def found(self, text):
        return [int(m[1] or m[2]) for m in self.pattern.finditer(text)]

    def restore(self, text, construct=None):
        construct = construct or (lambda source: source)
        return self.pattern.sub(lambda m: construct(self.constructs[int(m[1] or m[2])]), text)


_TAGS = re.compile(r"<[^>]*>")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_STYLE_OR_SCRIPT = re.compile(r"<(style|script)\b.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


def _text_order(html, tokens):
    """The text of an HTML source and its tokens in reading order, to see whether anything moved."""
    html = _STYLE_OR_SCRIPT.sub("", html)
    html = tokens.pattern.sub(lambda m: f" T{m[1] or m[2]} ", html)
    html = _TAGS.sub(" ", _HTML_COMMENT.sub(" ", html))
    return _WHITESPACE.sub("", html_module.unescape(html))


def _inlined_source(tokens):
    """The source with its CSS inlined, or None when that cannot be done safely once for all."""
    if not tokens.inline_once:
        return None
    try:
        inlined = inline_css(tokens.html)
    except (ValueError, css_inline.InlineError):
        return None
    if tokens.found(inlined) != list(tokens.constructs):
        return None
    if _text_order(inlined, tokens) != _text_order(tokens.html, tokens):
        return None
    return inlined


_MADE_DELIMITER = re.compile(r"\{(?=[{%#])")


def _literal_braces(text):
    """Keep as text a "{{", "{%" or "{#" that an HTML tool made (from entities, or by joining text).

    The source had none outside its constructs, which are tokens at this point.
    """
    return _MADE_DELIMITER.sub("{{ '{' }}", text)


_TABLE_PARTS = frozenset(("table", "tbody", "thead", "tfoot"))
_TRIM_MARKERS = re.compile(r"^(\{[{%])[-+]|[-+]([}%]\})$")


def _plain_construct(source):
    # Whitespace control was written for the HTML; the text template lays out its own lines.
    return _TRIM_MARKERS.sub(lambda m: m[1] or m[2], source)


def _text_source(tokenised_html, tokens):
    """The text template derived from the (inlined) tokenised HTML, or None if it cannot be."""
    tree = _tree(tokenised_html)
    if tree is None:
        return ""
    for comment in list(tree.iter(etree.Comment)):
        if not tokens.bare.fullmatch(comment.text or ""):
            continue
        parent, token = comment.getparent(), comment.text
        if parent.tag in _TABLE_PARTS or parent.tag == "tr":
            # A construct between rows or cells becomes a row or a cell of its own, where a
            # table's text is written, rather than text the table would move before itself.
            cell = etree.Element("td")
            cell.text = token
            if parent.tag != "tr":
                row = etree.Element("tr")
                row.append(cell)
                cell = row
            cell.tail = comment.tail
            parent.replace(comment, cell)
            continue
        text = token + (comment.tail or "")
        previous = comment.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + text
        else:
            parent.text = (parent.text or "") + text
        parent.remove(comment)
    _drop_repeated_links(tree, lambda href, text: tokens.restore(href) == tokens.restore(text))
    text = Inscriptis(tree, _text_config()).get_text()
    in_text = set(tokens.in_text)
    if [n for n in tokens.found(text) if n in in_text] != tokens.in_text:
        return None
    return tidy_text(tokens.restore(_literal_braces(text), _plain_construct))


# Compiled messages -------------------------------------------------------------------------------


def _compile(environment, source, field):
    try:
        return environment.from_string(source)
    except TemplateSyntaxError as error:
        raise syntax_error(error, field) from None


def syntax_error(error, field):
    message = _("Line %(line)s: %(detail)s") % {"line": error.lineno, "detail": error.message}
    return TemplateError(
        message, details=[{"field": field, "message": message, "line": error.lineno}]
    )


def _organisation_context(organisation):
    if organisation is None:
        return {"name": "", "address": "", "website": "", "phone": ""}
    return {
        "name": organisation.name,
        "address": organisation.address,
        "website": organisation.website,
        "phone": organisation.phone,
    }


def _contact_context(contact):
    if contact is None:
        return {"email": "", "name": "", "attributes": {}}
    return {"email": contact.email, "name": contact.name, "attributes": contact.attributes or {}}


def _place(document, marker, content):
    """Put the footer where the template's placeholder left its marker, else before </body>."""
    if marker in document:
        return document.replace(marker, content)
    at = max(document.rfind("</body>"), document.rfind("</BODY>"))
    if at < 0:
        return document + content
    return document[:at] + content + document[at:]


def _error_line(error):
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename == "<template>":
            return frame.lineno
    return None


def render_error(error, field="html"):
    """A TemplateError saying what went wrong while rendering, and on which line."""
    line = _error_line(error)
    if isinstance(error, SecurityError):
        detail = _("this template reaches for something templates may not use (%(detail)s)") % {
            "detail": error
        }
    else:
        detail = str(error) or error.__class__.__name__
    if line is not None:
        message = _("Line %(line)s: %(detail)s") % {"line": line, "detail": detail}
    else:
        message = detail
    return TemplateError(message, details=[{"field": field, "message": message, "line": line}])


class CompiledMessage:
    """A subject and an HTML body compiled once, then rendered for each recipient.

    `render` returns (subject, html, text): the subject on one line, the HTML with its CSS inlined
    and the footer in place (added if the template left it out), and the text alternative with
    the footer's text.
    """

    def __init__(self, subject, html, organisation=None):
        source = with_footer_placeholder(html or "")
        self.subject = _compile(text_environment(), subject or "", "subject")
        self.organisation = _organisation_context(organisation)
        # Letters and digits only, unknown to the template's author: where it lands, the footer goes.
        self.marker = Markup(f"F{secrets.token_hex(6)}OOTER")  # noqa: S704
        self.globals = dict(html_environment().globals)
        split = split_source(source)
        tokens = _Tokens(split[0]) if split is not None else None
        inlined = _inlined_source(tokens) if tokens is not None else None
        self.inline_each = inlined is None
        self.html = None
        if inlined is not None:
            try:
                self.html = html_environment().from_string(tokens.restore(_literal_braces(inlined)))
            except TemplateSyntaxError:
                self.inline_each = True
        if self.html is None:
            self.html = _compile(html_environment(), source, "html")
        self.text = None
        if tokens is not None and tokens.safe:
            text_source = _text_source(inlined or tokens.html, tokens)
            if text_source is not None:
                try:
                    self.text = text_environment().from_string(text_source)
                except TemplateSyntaxError:
                    self.text = None

    def render(self, contact, *, unsubscribe_url, footer_html):
        variables = {
            **self.globals,
            "contact": _contact_context(contact),
            "organisation": self.organisation,
            "unsubscribe_url": unsubscribe_url,
            FOOTER_PLACEHOLDER: self.marker,
        }
        try:
            subject = " ".join(_run(self.subject, variables).split())
            variables["campaign"] = {"subject": subject}
            html = _run(self.html, variables)
            if self.inline_each:
                html = inline_css(html)
            text = _run(self.text, variables) if self.text is not None else html_to_text(html)
        except Exception as error:
            raise render_error(error) from error
        footer_html = str(footer_html)
        html = _place(html, self.marker, footer_html)
        text = _place(text.strip(), self.marker, footer_text(footer_html, unsubscribe_url))
        return subject, html, text + "\n"


def _run(template, variables):
    """Render with a fresh dict of variables that already holds the globals (saves a copy)."""
    context = template.new_context(variables, shared=True)
    try:
        return "".join(template.root_render_func(context))
    except Exception:
        return template.environment.handle_exception()


class CompiledCampaign(CompiledMessage):
    """A campaign's subject and HTML (or its template's, before launch), compiled once."""

    def __init__(self, campaign):
        from .tracking import tracker_for

        html = campaign.html
        if not html and campaign.template_id is not None:
            html = campaign.template.html
        # A campaign that counts opens and clicks has its links rewritten here, once for all.
        self.tracker = tracker_for(campaign)
        if self.tracker is not None:
            html = self.tracker.prepare(html)
        super().__init__(campaign.subject, html, campaign.tenant)
        self.campaign = campaign


# Checking a template before it is saved ----------------------------------------------------------


class SampleContact:
    """The contact a template is tried with when no real one is chosen."""

    email = "camille.tremblay@example.com"
    name = "Camille Tremblay"
    attributes = {}


def _static_problem(ast, environment, source, field):
    """The first construct of a parsed template that a sandboxed template may not use."""
    problems = []
    for node in ast.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        problems.append(
            (node.lineno, _("a template cannot include, import or extend another file."))
        )
    for node in ast.find_all(nodes.Getattr):
        if node.attr.startswith("_"):
            problems.append((node.lineno, _reserved(node.attr)))
    for node in ast.find_all((nodes.Getitem, nodes.Filter)):
        if isinstance(node, nodes.Filter) and node.name != "attr":
            continue
        args = [node.arg] if isinstance(node, nodes.Getitem) else node.args
        for arg in args:
            if isinstance(arg, nodes.Const) and str(arg.value).startswith("_"):
                problems.append((node.lineno, _reserved(str(arg.value))))
    unknown = meta.find_undeclared_variables(ast) - CONTEXT_NAMES - set(environment.globals)
    for node in ast.find_all(nodes.Name):
        if node.name in unknown:
            problems.append(
                (
                    node.lineno,
                    _(
                        "“%(name)s” is not known. A template may use contact (email, name, "
                        "attributes), organisation (name, address, website, phone), "
                        "campaign.subject, unsubscribe_url and footer."
                    )
                    % {"name": node.name},
                )
            )
    split = split_source(source) if field == "html" else None
    if split is not None:
        line = 1
        for piece in split[0]:
            if (
                piece.kind in ("expr", "stmt")
                and piece.context != "text"
                and _NAMES_FOOTER.search(piece.text)
            ):
                problems.append(
                    (
                        line,
                        _(
                            "put {{ footer }} in the text of the message, not inside a tag, "
                            "an attribute or a comment."
                        ),
                    )
                )
            line += piece.text.count("\n")
    return min(problems, key=lambda problem: problem[0]) if problems else None


def _reserved(name):
    return _("“%(name)s” cannot be used: names starting with an underscore are reserved.") % {
        "name": name
    }


def _check_source(source, environment, field):
    try:
        ast = environment.parse(source)
    except TemplateSyntaxError as error:
        raise syntax_error(error, field) from None
    problem = _static_problem(ast, environment, source, field)
    if problem is not None:
        line, detail = problem
        message = _("Line %(line)s: %(detail)s") % {"line": line, "detail": detail}
        raise TemplateError(message, details=[{"field": field, "message": message, "line": line}])
    return _compile(environment, source, field)


def check_template(html, subject="", organisation=None, contact=None):
    """Refuse a template that cannot be saved: syntax, unknown names, sandbox escapes; else None.

    The template is parsed and checked without running, then rendered with a sample contact, so
    that what only shows when it runs (a reach for Python internals built at run time) is refused
    now, with its line.
    """
    if len(html) > MAX_TEMPLATE_CHARS:
        message = _("A template may have at most %(limit)d characters.") % {
            "limit": MAX_TEMPLATE_CHARS
        }
        raise TemplateError(message, details=[{"field": "html", "message": message}])
    if len(subject) > MAX_SUBJECT_CHARS or "\n" in subject or "\r" in subject:
        message = _("A subject is one line of at most %(limit)d characters.") % {
            "limit": MAX_SUBJECT_CHARS
        }
        raise TemplateError(message, details=[{"field": "subject", "message": message}])
    subject_template = _check_source(subject, text_environment(), "subject")
    html_template = _check_source(html, html_environment(), "html")
    context = {
        "contact": _contact_context(contact or SampleContact()),
        "organisation": _organisation_context(organisation),
        "campaign": {"subject": ""},
        "unsubscribe_url": "https://example.com/u/sample/",
        FOOTER_PLACEHOLDER: Markup(""),
    }
    for template, field in ((subject_template, "subject"), (html_template, "html")):
        try:
            template.render(context)
        except Exception as error:
            raise render_error(error, field) from None
