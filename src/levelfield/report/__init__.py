"""What the owner reads: the one-file HTML report and table exports.

:func:`write_report` runs the analyses (those not given), the advice playbook and the
five headline numbers, and writes one self-contained HTML file (inline CSS, Plotly's
JavaScript from the installed package, no external requests). :func:`write_lender_pack`
writes the printable lender pack (financing only, totals only, no script). :func:`export_tables`
writes every result table to CSV and XLSX. :class:`ReportData` is the same content as
plain, JSON-serializable data; the web app caches it per organization.
"""

from levelfield.report._cells import is_dangerous_text, safe_cell, safe_frame, write_safe_xlsx
from levelfield.report._contacts import (
    CONTACT_FORMATS,
    CONTACT_SEGMENTS,
    PERSONAL_DATA_WARNING,
    ContactList,
    ContactSource,
    contact_list,
    write_contacts,
)
from levelfield.report._cooperation import (
    COOPERATION_METHODS,
    CooperationView,
    cooperation_section,
    cooperation_view,
)
from levelfield.report._data import (
    ANALYSIS_TITLES,
    ActionView,
    AutomationView,
    Chart,
    FindingView,
    KeyNumber,
    ReportData,
    ScorecardView,
    Section,
    TablePreview,
    UnlockView,
    build_report_data,
    key_numbers,
)
from levelfield.report._export import export_tables, result_tables
from levelfield.report._lender import (
    LENDER_CSP,
    LenderPack,
    build_lender_pack,
    render_lender_pack,
    write_lender_pack,
)
from levelfield.report._peers import (
    PEER_LABELS,
    PeerPosition,
    peer_positions,
    peer_section,
    read_peer_release,
)
from levelfield.report._render import (
    TEMPLATE_DIR,
    asset_text,
    make_environment,
    plotly_js,
    render_report,
    report_csp,
    write_report,
)

__all__ = [
    "ANALYSIS_TITLES",
    "CONTACT_FORMATS",
    "CONTACT_SEGMENTS",
    "COOPERATION_METHODS",
    "LENDER_CSP",
    "PEER_LABELS",
    "PERSONAL_DATA_WARNING",
    "TEMPLATE_DIR",
    "ActionView",
    "AutomationView",
    "Chart",
    "ContactList",
    "ContactSource",
    "CooperationView",
    "FindingView",
    "KeyNumber",
    "LenderPack",
    "PeerPosition",
    "ReportData",
    "ScorecardView",
    "Section",
    "TablePreview",
    "UnlockView",
    "asset_text",
    "build_lender_pack",
    "build_report_data",
    "contact_list",
    "cooperation_section",
    "cooperation_view",
    "export_tables",
    "is_dangerous_text",
    "key_numbers",
    "make_environment",
    "peer_positions",
    "peer_section",
    "plotly_js",
    "read_peer_release",
    "render_lender_pack",
    "render_report",
    "report_csp",
    "result_tables",
    "safe_cell",
    "safe_frame",
    "write_contacts",
    "write_lender_pack",
    "write_report",
    "write_safe_xlsx",
]
