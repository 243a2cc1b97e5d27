"""Idempotent bootstrap of the local AWS stack (moto): table, KMS key + alias,
SES identity, and what `pwctl admin keys init` creates in a deployed stack:
the sealed data keys (session, outbox; the pepper when PASSWORD_PEPPER_ID is
set), the first sealed SCv2 private key with its public key in clear, and the
public key of any older key item that lacks it. Layout: docs/data-model.md."""

import os
import sys
import time

import boto3
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

endpoint, table, alias, sender, key_id_file = sys.argv[1:6]
kw = dict(
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="test",
    aws_secret_access_key="test",
)
ddb = boto3.client("dynamodb", **kw)
kms = boto3.client("kms", **kw)
ses = boto3.client("ses", **kw)

# Table: PK/SK strings, on demand, stream NEW_IMAGE, TTL on expiresAt.
try:
    ddb.describe_table(TableName=table)
except ClientError as e:
    if e.response["Error"]["Code"] != "ResourceNotFoundException":
        raise
    ddb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    ddb.get_waiter("table_exists").wait(TableName=table)
ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
if ttl.get("AttributeName") != "expiresAt":
    ddb.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"},
    )

# KMS symmetric key behind the alias.
key_id = None
for page in kms.get_paginator("list_aliases").paginate():
    for a in page["Aliases"]:
        if a["AliasName"] == alias and a.get("TargetKeyId"):
            key_id = a["TargetKeyId"]
if key_id is None:
    key_id = kms.create_key(
        Description="password-api local sealing key",
        KeySpec="SYMMETRIC_DEFAULT",
        KeyUsage="ENCRYPT_DECRYPT",
    )["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
with open(key_id_file, "w") as f:
    f.write(key_id + "\n")

# SES sender identity.
ses.verify_email_identity(EmailAddress=sender)

# Sealed secrets (functions never create them): 32 random bytes, KMS context
# {"purpose": purpose, "kid": id}.
secrets = [
    ("scv2-session-data-key", os.environ.get("SESSION_DATA_KEY_ID", "d1")),
    ("outbox-data-key", os.environ.get("OUTBOX_DATA_KEY_ID", "o1")),
]
if os.environ.get("PASSWORD_PEPPER_ID"):
    secrets.append(("password-pepper", os.environ["PASSWORD_PEPPER_ID"]))
for purpose, sid in secrets:
    pk = {"PK": {"S": "SECRET#" + purpose}, "SK": {"S": sid}}
    if ddb.get_item(TableName=table, Key=pk, ConsistentRead=True).get("Item"):
        continue
    sealed = kms.encrypt(
        KeyId=key_id,
        Plaintext=os.urandom(32),
        EncryptionContext={"purpose": purpose, "kid": sid},
    )["CiphertextBlob"]
    try:
        ddb.put_item(
            TableName=table,
            Item=dict(
                pk,
                type={"S": "SealedSecret"},
                purpose={"S": purpose},
                sealedValue={"B": sealed},
            ),
            ConditionExpression="attribute_not_exists(PK)",
        )
        print("bootstrap: sealed secret %s/%s stored" % (purpose, sid), file=sys.stderr)
    except ClientError as e:
        if e.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def spki_of(pkcs8_der):
    return serialization.load_der_private_key(pkcs8_der, password=None).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# Public keys of key items written before they were kept in clear.
items = ddb.query(
    TableName=table,
    KeyConditionExpression="PK = :pk",
    ExpressionAttributeValues={":pk": {"S": "KEYRING#scv2"}},
    ConsistentRead=True,
)["Items"]
for item in items:
    if not item["SK"]["S"].startswith("KEY#") or "publicKey" in item:
        continue
    kid = item["kid"]["S"]
    der = kms.decrypt(
        KeyId=key_id,
        CiphertextBlob=item["sealedKey"]["B"],
        EncryptionContext={"purpose": "scv2-private-key", "kid": kid},
    )["Plaintext"]
    ddb.update_item(
        TableName=table,
        Key={"PK": item["PK"], "SK": item["SK"]},
        UpdateExpression="SET publicKey = :pub",
        ExpressionAttributeValues={":pub": {"B": spki_of(der)}},
    )
    del der
    print("bootstrap: public key of %s stored" % kid, file=sys.stderr)

# First SCv2 key, if no active unexpired one: RSA-3072 PKCS#8 DER sealed by
# KMS with context {"purpose":"scv2-private-key","kid":kid}.
now_ms = int(time.time() * 1000)
active = ddb.get_item(
    TableName=table,
    Key={"PK": {"S": "KEYRING#scv2"}, "SK": {"S": "ACTIVE"}},
    ConsistentRead=True,
).get("Item")
usable = False
if active:
    kid = active["activeKid"]["S"]
    item = ddb.get_item(
        TableName=table,
        Key={"PK": {"S": "KEYRING#scv2"}, "SK": {"S": "KEY#" + kid}},
        ConsistentRead=True,
    ).get("Item")
    usable = bool(item) and int(item["expiresAtMs"]["N"]) > now_ms
if not usable:
    kid = "k-local-%d" % (now_ms // 1000)
    lifetime_ms = int(os.environ.get("SC_KEY_LIFETIME_DAYS", "90")) * 86_400_000
    expires_ms = now_ms + lifetime_ms
    der = rsa.generate_private_key(public_exponent=65537, key_size=3072).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    sealed = kms.encrypt(
        KeyId=key_id,
        Plaintext=der,
        EncryptionContext={"purpose": "scv2-private-key", "kid": kid},
    )["CiphertextBlob"]
    ddb.put_item(
        TableName=table,
        Item={
            "PK": {"S": "KEYRING#scv2"},
            "SK": {"S": "KEY#" + kid},
            "type": {"S": "ScKey"},
            "kid": {"S": kid},
            "sealedKey": {"B": sealed},
            "publicKey": {"B": spki_of(der)},
            "createdAtMs": {"N": str(now_ms)},
            "expiresAtMs": {"N": str(expires_ms)},
            "expiresAt": {"N": str(-(-expires_ms // 1000))},
        },
        ConditionExpression="attribute_not_exists(PK)",
    )
    del der
    ddb.put_item(
        TableName=table,
        Item={
            "PK": {"S": "KEYRING#scv2"},
            "SK": {"S": "ACTIVE"},
            "type": {"S": "ScKeyActive"},
            "activeKid": {"S": kid},
            "updatedAtMs": {"N": str(now_ms)},
        },
    )
    print("bootstrap: sealed SCv2 key %s stored and active" % kid, file=sys.stderr)
print("bootstrap: table %s, kms %s (%s), ses %s ready" % (table, alias, key_id, sender), file=sys.stderr)
