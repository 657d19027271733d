"""Real provider webhook payloads: the examples in django-anymail's tests, which
quote Amazon SES's and SendGrid's documentation. Only the ids are parameters,
so that an event points at a row of the test's delivery log.
"""

import json


def sendgrid(kind: str, email: str, anymail_id: str, **fields) -> dict:
    base = {
        "bounce": {"ip": "167.89.17.173", "status": "5.1.1",
                   "smtp-id": "<wrfRRvF7Q0GgwUo2CvDmEA@ismtpd0006p1sjc2.sendgrid.net>",
                   "sg_event_id": "lC0Rc-FuQmKbnxCWxX1jRQ",
                   "reason": "550 5.1.1 The email account that you tried to reach does "
                             "not exist.",
                   "sg_message_id": "Lli-03HcQ5-JLybO9fXsJg.filter0077p1las1.21536.5717FC482.0",
                   "tls": 1, "event": "bounce", "timestamp": 1461095250, "type": "bounce"},
        "delivered": {"ip": "167.89.17.173",
                      "response": "250 2.0.0 OK 1461095248 m143si2210036ioe.159 - gsmtp ",
                      "smtp-id": "<wrfRRvF7Q0GgwUo2CvDmEA@ismtpd0006p1sjc2.sendgrid.net>",
                      "sg_event_id": "nOSv8m0eTQ-vxvwNwt3fZQ",
                      "sg_message_id": "wrfRRvF7Q0GgwUo2CvDmEA.filter0425p1mdw1.13037."
                                       "57168B4A1D.0",
                      "tls": 1, "event": "delivered", "timestamp": 1461095250},
        "deferred": {"response": "Email was deferred due to the following reason(s): "
                                 "[IPs were throttled by recipient server]",
                     "smtp-id": "<wrfRRvF7Q0GgwUo2CvDmEA@ismtpd0006p1sjc2.sendgrid.net>",
                     "sg_event_id": "b_syL5UiTvWC_Ky5L6Bs5Q",
                     "sg_message_id": "u9Gvi3mzT6iC2poAb58_qQ.filter0465p1mdw1.8054."
                                      "5718271B40.0",
                     "event": "deferred", "attempt": "1", "timestamp": 1461200990},
        "spamreport": {"sg_event_id": "ZxQpvk5SRvWbhq1WSK2Xcg",
                       "sg_message_id": "wrfRRvF7Q0GgwUo2CvDmEA.filter0425p1mdw1.13037."
                                        "57168B4A1D.0",
                       "event": "spamreport", "timestamp": 1461095250},
    }[kind]
    return {**base, "email": email, "anymail_id": anymail_id, **fields}


def ses_notification(ses_event: dict, sns_message_id: str) -> dict:
    return {
        "Type": "Notification",
        "MessageId": sns_message_id,
        "TopicArn": "arn:aws:sns:us-east-1:1234567890:SES_Events",
        "Subject": "Amazon SES Email Event Notification",
        "Message": json.dumps(ses_event) + "\n",
        "Timestamp": "2018-03-26T17:58:59.675Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE-SIGNATURE==",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/"
                          "SimpleNotificationService-12345abcde.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/"
                          "?Action=Unsubscribe&SubscriptionArn=arn...",
    }


def ses_bounce(message_id: str, metadata: dict, bounce_type: str = "Permanent") -> dict:
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "reportingMTA": "dns; email.example.com",
            "bouncedRecipients": [{
                "emailAddress": "jane@example.com", "status": "5.1.1", "action": "failed",
                "diagnosticCode": "smtp; 550 5.1.1 <jane@example.com>... User unknown"}],
            "bounceSubType": "General",
            "timestamp": "2016-01-27T14:59:44.101Z",
            "feedbackId": "00000138111222aa-44455566-cccc-cccc-cccc-ddddaaaa068a-000000",
            "remoteMtaIp": "127.0.2.0",
        },
        "mail": {
            "timestamp": "2016-01-27T14:59:38.237Z",
            "source": "john@example.com",
            "sourceArn": "arn:aws:ses:us-west-2:888888888888:identity/example.com",
            "sourceIp": "127.0.3.0",
            "sendingAccountId": "123456789012",
            "messageId": message_id,
            "destination": ["jane@example.com", "mary@example.com"],
            "headersTruncated": False,
            "headers": [
                {"name": "From", "value": '"John Doe" <john@example.com>'},
                {"name": "To", "value": '"Jane Doe" <jane@example.com>, '
                                        '"Mary Doe" <mary@example.com>'},
                {"name": "Subject", "value": "Hello"},
                {"name": "X-Tag", "value": "testapp.Hello"},
                {"name": "X-Metadata", "value": json.dumps(metadata)},
            ],
        },
    }


def ses_complaint(message_id: str) -> dict:
    return {
        "notificationType": "Complaint",
        "complaint": {"userAgent": "AnyCompany Feedback Loop (V0.01)",
                      "complainedRecipients": [{"emailAddress": "mary@example.com"}],
                      "complaintFeedbackType": "abuse"},
        "mail": {"messageId": message_id,
                 "destination": ["jane@example.com", "mary@example.com"]},
    }


def ses_delivery(message_id: str) -> dict:
    return {
        "notificationType": "Delivery",
        "mail": {"timestamp": "2016-01-27T14:59:38.237Z", "messageId": message_id,
                 "destination": ["jane@example.com", "mary@example.com"]},
        "delivery": {"timestamp": "2016-01-27T14:59:38.237Z",
                     "recipients": ["jane@example.com"], "processingTimeMillis": 546,
                     "reportingMTA": "a8-70.smtp-out.amazonses.com",
                     "smtpResponse": "250 ok:  Message 64111812 accepted",
                     "remoteMtaIp": "127.0.2.0"},
    }
