"""Provider webhook payloads in the shapes Amazon SES (through SNS) and SendGrid's
Event Webhook document, with values of our own. Only the ids are parameters, so
that an event points at a row of the test's delivery log.
"""

import json


def sendgrid(kind: str, email: str, anymail_id: str, **fields) -> dict:
    base = {
        "bounce": {"ip": "192.0.2.41", "status": "5.1.1",
                   "smtp-id": "<b7Qx2mLw@mta1.shop.example>",
                   "sg_event_id": "ev-bounce-0001",
                   "reason": "550 5.1.1 <ada@shop.example>: Recipient address "
                             "rejected: User unknown",
                   "sg_message_id": "sgm-bounce-1.filter01.1.0",
                   "tls": 1, "event": "bounce", "timestamp": 1764700000, "type": "bounce"},
        "delivered": {"ip": "192.0.2.41",
                      "response": "250 2.0.0 OK 1764700000 queued",
                      "smtp-id": "<b7Qx2mLw@mta1.shop.example>",
                      "sg_event_id": "ev-delivered-0001",
                      "sg_message_id": "sgm-delivered-1.filter01.2.0",
                      "tls": 1, "event": "delivered", "timestamp": 1764700000},
        "deferred": {"response": "421 4.7.0 Too many connections from "
                                 "your address, try again later",
                     "smtp-id": "<b7Qx2mLw@mta1.shop.example>",
                     "sg_event_id": "ev-deferred-0001",
                     "sg_message_id": "sgm-deferred-1.filter01.3.0",
                     "event": "deferred", "attempt": "1", "timestamp": 1764700300},
        "spamreport": {"sg_event_id": "ev-spam-0001",
                       "sg_message_id": "sgm-spam-1.filter01.4.0",
                       "event": "spamreport", "timestamp": 1764700000},
        "unsubscribe": {"sg_event_id": "ev-unsub-0001",
                        "sg_message_id": "sgm-unsub-1.filter01.5.0",
                        "event": "unsubscribe", "timestamp": 1764700000},
        "group_unsubscribe": {"sg_event_id": "ev-group-unsub-0001",
                              "sg_message_id": "sgm-group-unsub-1.filter01.6.0",
                              "useragent": "Mozilla/5.0", "ip": "192.0.2.77",
                              "url": "https://shop.example/prefs", "asm_group_id": 42,
                              "event": "group_unsubscribe", "timestamp": 1764700000},
        "dropped": {"sg_event_id": "ev-dropped-0001",
                    "sg_message_id": "sgm-dropped-1.filter01.7.0",
                    "reason": "Unsubscribed Address", "status": "",
                    "event": "dropped", "timestamp": 1764700000},
    }[kind]
    return {**base, "email": email, "anymail_id": anymail_id, **fields}


def ses_notification(ses_event: dict, sns_message_id: str) -> dict:
    return {
        "Type": "Notification",
        "MessageId": sns_message_id,
        "TopicArn": "arn:aws:sns:eu-west-1:111122223333:txmail-ses-events",
        "Subject": "Amazon SES Email Event Notification",
        "Message": json.dumps(ses_event) + "\n",
        "Timestamp": "2026-12-01T09:30:05.120Z",
        "SignatureVersion": "1",
        "Signature": "dGVzdC1zaWduYXR1cmU=",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/"
                          "SimpleNotificationService-test.pem",
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/"
                          "?Action=Unsubscribe&SubscriptionArn=test",
    }


def ses_bounce(message_id: str, metadata: dict, bounce_type: str = "Permanent") -> dict:
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "reportingMTA": "dns; mx.shop.example",
            "bouncedRecipients": [{
                "emailAddress": "ada@shop.example", "status": "5.1.1", "action": "failed",
                "diagnosticCode": "smtp; 550 5.1.1 <ada@shop.example>: User unknown"}],
            "bounceSubType": "General",
            "timestamp": "2026-12-01T09:30:04.210Z",
            "feedbackId": "0100018c-test-feedback-0001",
            "remoteMtaIp": "198.51.100.7",
        },
        "mail": {
            "timestamp": "2026-12-01T09:30:01.000Z",
            "source": "news@shop.example",
            "sourceArn": "arn:aws:ses:eu-west-1:111122223333:identity/shop.example",
            "sourceIp": "198.51.100.9",
            "sendingAccountId": "111122223333",
            "messageId": message_id,
            "destination": ["ada@shop.example", "grace@shop.example"],
            "headersTruncated": False,
            "headers": [
                {"name": "From", "value": '"Acme Shop" <news@shop.example>'},
                {"name": "To", "value": 'Ada <ada@shop.example>, '
                                        'Grace <grace@shop.example>'},
                {"name": "Subject", "value": "Hello"},
                {"name": "X-Tag", "value": "testapp.Hello"},
                {"name": "X-Metadata", "value": json.dumps(metadata)},
            ],
        },
    }


def ses_complaint(message_id: str) -> dict:
    return {
        "notificationType": "Complaint",
        "complaint": {"userAgent": "Example Mail Feedback Loop 2.1",
                      "complainedRecipients": [{"emailAddress": "grace@shop.example"}],
                      "complaintFeedbackType": "abuse"},
        "mail": {"messageId": message_id,
                 "destination": ["ada@shop.example", "grace@shop.example"]},
    }


def ses_delivery(message_id: str) -> dict:
    return {
        "notificationType": "Delivery",
        "mail": {"timestamp": "2026-12-01T09:30:01.000Z", "messageId": message_id,
                 "destination": ["ada@shop.example", "grace@shop.example"]},
        "delivery": {"timestamp": "2026-12-01T09:30:01.000Z",
                     "recipients": ["ada@shop.example"], "processingTimeMillis": 812,
                     "reportingMTA": "b1-2.smtp-out.eu-west-1.amazonses.com",
                     "smtpResponse": "250 2.0.0 OK queued as 4XKb2T1xYz",
                     "remoteMtaIp": "198.51.100.7"},
    }
