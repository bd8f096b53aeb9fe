"""Citations that look the same in the text and in the bibliography: author and year in both.

sphinxcontrib-bibtex writes a citation in the text by author and year ("[Hinton et al., 2012]",
``bibtex_reference_style = "author_year"``) but keys the bibliography by pybtex's alpha labels
("[HSK+12]"), so a reader cannot find the one in the other, on the site or in the PDF. Here

* the bibliography's labels are author and year, as in the text (the formatting style
  ``reglab_author_year``: pybtex's plain entries, sorted by author, year and title, with the
  label style below), and
* a parenthetical citation prints that label (the reference style ``reglab_author_year``), so
  the two agree even where one author has two entries in a year ("Bishop, 1995a"); a textual
  citation (``{cite:t}``) reads "Hinton et al. [2012]", as with sphinxcontrib-bibtex's own
  author-year style.

_config.yml selects both (``bibtex_default_style``, ``bibtex_reference_style``).
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle

NAME = "reglab_author_year"


def _surname(person) -> str:
    return " ".join(part.render_as("text") for part in person.rich_prelast_names + person.rich_last_names)


def author_year(entry) -> str:
    """ "Breiman, 1996", "Baldi and Sadowski, 2013", "Hinton et al., 2012" (editors if no author)."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_surname(p) for p in people]
    if not names:
        who = entry.fields.get("title", entry.key)
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabels(BaseLabelStyle):
    """Labels by author and year; one author's entries of one year get a, b, c."""

    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [author_year(e) for e in entries]
        for label in set(labels):
            same = [i for i, x in enumerate(labels) if x == label]
            if len(same) > 1:
                for suffix, i in zip(string.ascii_lowercase, same):
                    labels[i] = label + suffix
        yield from labels


class AuthorYearStyle(PlainStyle):
    default_label_style = NAME
    default_sorting_style = "author_year_title"


def _reference_style():
    from sphinxcontrib.bibtex.style.referencing import (
        BracketStyle,
        GroupReferenceStyle,
        PersonStyle,
    )
    from sphinxcontrib.bibtex.style.referencing.basic_author_year import (
        BasicAuthorYearTextualReferenceStyle,
    )
    from sphinxcontrib.bibtex.style.referencing.basic_label import (
        BasicLabelParentheticalReferenceStyle,
    )
    from sphinxcontrib.bibtex.style.referencing.extra_author import (
        ExtraAuthorReferenceStyle,
    )
    from sphinxcontrib.bibtex.style.referencing.extra_empty import (
        ExtraEmptyReferenceStyle,
    )
    from sphinxcontrib.bibtex.style.referencing.extra_label import (
        ExtraLabelReferenceStyle,
    )
    from sphinxcontrib.bibtex.style.referencing.extra_year import (
        ExtraYearReferenceStyle,
    )

    @dataclass
    class AuthorYearLabelReferenceStyle(GroupReferenceStyle):
        """Parenthetical by the author-year label; textual as "Author [year]"."""

        bracket_textual: BracketStyle = field(default_factory=BracketStyle)
        # several works in one citation: "[Caruana, 1997; Ruder, 2017]"
        bracket_parenthetical: BracketStyle = field(default_factory=lambda: BracketStyle(sep="; "))
        bracket_author: BracketStyle = field(default_factory=BracketStyle)
        bracket_label: BracketStyle = field(default_factory=BracketStyle)
        bracket_year: BracketStyle = field(default_factory=BracketStyle)
        person: PersonStyle = field(default_factory=PersonStyle)
        text_reference_sep: str = " "
        pre_text_sep: str = " "
        post_text_sep: str = ", "

        def __post_init__(self):
            self.styles.extend(
                [
                    BasicLabelParentheticalReferenceStyle(
                        bracket=self.bracket_parenthetical,
                        pre_text_sep=self.pre_text_sep,
                        post_text_sep=self.post_text_sep,
                    ),
                    BasicAuthorYearTextualReferenceStyle(
                        bracket=self.bracket_textual,
                        person=self.person,
                        text_reference_sep=self.text_reference_sep,
                        pre_text_sep=self.pre_text_sep,
                        post_text_sep=self.post_text_sep,
                    ),
                    ExtraAuthorReferenceStyle(bracket=self.bracket_author, person=self.person),
                    ExtraLabelReferenceStyle(bracket=self.bracket_label),
                    ExtraYearReferenceStyle(bracket=self.bracket_year),
                    ExtraEmptyReferenceStyle(),
                ]
            )
            super().__post_init__()

    return AuthorYearLabelReferenceStyle


def _register():
    from sphinxcontrib.bibtex.plugin import (
        register_plugin as register_bibtex_plugin,
    )

    register_plugin("pybtex.style.labels", NAME, AuthorYearLabels, force=True)
    register_plugin("pybtex.style.formatting", NAME, AuthorYearStyle, force=True)
    register_bibtex_plugin(
        "sphinxcontrib.bibtex.style.referencing",
        NAME,
        _reference_style(),
        force=True,
    )


def setup(app):
    _register()
    return {"env_version": 3, "parallel_read_safe": True, "parallel_write_safe": True}
