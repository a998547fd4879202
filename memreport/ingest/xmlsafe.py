"""XML from customer bundles (sadf -x, libvirt domain XML) is untrusted: parsed only without
entity declarations, so no entity expansion (billion laughs) and no external entity is ever read."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from memreport.ingest.procfs import ParseError


def parse_untrusted_xml(text: str) -> ET.Element:
    # Anywhere in the text, not only at the top: a long comment can push the DOCTYPE down.
    if "<!ENTITY" in text:
        raise ParseError(None, "XML declares entities: refused")
    try:
        return ET.fromstring(text)
    except ET.ParseError as e:
        raise ParseError(e.position[0], f"not well-formed XML ({e})") from None


__all__ = ["parse_untrusted_xml"]
