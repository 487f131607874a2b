"""The e-mail adapters: RFC 822 messages (.eml) and Outlook messages (.msg), read through
unstructured, with the headers a reviewer needs as the first piece and attachments kept."""

from __future__ import annotations

import email
import email.policy
import io
from email.message import EmailMessage

from compliance.extract.model import (
    Attachment,
    ExtractionFailed,
    Parsed,
    Piece,
    describe_exception,
    pieces_from_elements,
)
from compliance.vocab import DocumentStatus


def _email_header_piece(message: EmailMessage) -> Piece | None:
    lines = []
    for name in ("From", "To", "Cc", "Date", "Subject"):
        value = message.get(name)
        if value:
            lines.append(f"{name}: {value}")
    return Piece("\n".join(lines), "EmailHeader") if lines else None


def extract_eml(data: bytes) -> Parsed:
    """An .eml message's headers and body, and its attachments (a forwarded message included)."""
    from unstructured.partition.email import partition_email

    message = email.message_from_bytes(data, policy=email.policy.default)
    content_type = message.get_content_type()
    if content_type in ("application/pkcs7-mime", "application/x-pkcs7-mime",
                        "multipart/encrypted"):
        raise ExtractionFailed(DocumentStatus.ENCRYPTED,
                               f"e-mail body is encrypted ({content_type})")
    attachments: list[Attachment] = []
    problems: list[str] = []
    for index, part in enumerate(message.iter_attachments()):
        try:
            payload = part.get_payload(decode=True)
            if payload is None and part.get_content_type() == "message/rfc822":
                payload = part.get_payload()[0].as_bytes()  # type: ignore[index]
        except MemoryError:
            raise
        except Exception as exc:  # one broken attachment must not cost the message's text
            problems.append(f"attachment {index + 1} is unreadable: {describe_exception(exc)}")
            continue
        if payload is None:
            problems.append(f"attachment {index + 1} has no readable payload")
            continue
        attachments.append(Attachment(part.get_filename() or f"attachment-{index + 1}", payload))
    pieces: list[Piece] = []
    header = _email_header_piece(message)
    if header:
        pieces.append(header)
    elements = partition_email(file=io.BytesIO(data), process_attachments=False)
    pieces.extend(pieces_from_elements(elements))
    return Parsed(pieces, "unstructured", problems, attachments)


def extract_msg(data: bytes) -> Parsed:
    """An Outlook message's headers and body, and its attachments that have file bytes."""
    from oxmsg import Message
    from unstructured.partition.msg import partition_msg

    try:
        message = Message.load(io.BytesIO(data))
        message_class = message.message_class or ""
    except Exception as exc:
        raise ExtractionFailed(DocumentStatus.CORRUPT,
                               f"unreadable Outlook message: {type(exc).__name__}: {exc}"
                               ) from None
    if "SMIME" in message_class.upper() or "RPMSG" in message_class.upper():
        raise ExtractionFailed(DocumentStatus.ENCRYPTED,
                               f"Outlook message is encrypted ({message_class})")
    problems: list[str] = []
    attachments: list[Attachment] = []
    try:
        for index, attachment in enumerate(message.attachments):
            blob = attachment.file_bytes
            if not blob:
                continue  # an embedded Outlook item: oxmsg exposes no file bytes for it
            attachments.append(Attachment(attachment.file_name or f"attachment-{index + 1}", blob))
    except Exception as exc:
        problems.append(f"attachments unreadable: {type(exc).__name__}: {exc}")
    header_lines = [f"From: {message.sender}" if message.sender else "",
                    f"Date: {message.sent_date}" if message.sent_date else "",
                    f"Subject: {message.subject}" if message.subject else ""]
    pieces = [Piece("\n".join(line for line in header_lines if line), "EmailHeader")]
    try:
        elements = partition_msg(file=io.BytesIO(data), process_attachments=False)
    except Exception as exc:
        raise ExtractionFailed(DocumentStatus.CORRUPT,
                               f"unreadable Outlook message: {type(exc).__name__}: {exc}"
                               ) from None
    pieces.extend(pieces_from_elements(elements))
    return Parsed(pieces, "unstructured", problems, attachments)
