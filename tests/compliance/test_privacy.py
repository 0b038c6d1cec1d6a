"""Personal data: ciphertext at rest, keyed-hash search, masks, reveals, keys, retention."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import StatementError
from typer.testing import CliRunner

from daihou.auth.actor import SYSTEM, Actor
from daihou.cli import compliance_data
from daihou.compliance.audit import models as audit_models
from daihou.compliance.audit.service import verify
from daihou.compliance.privacy import crypto
from daihou.compliance.privacy import models as privacy_models
from daihou.compliance.privacy.crypto import (
    TOMBSTONE,
    DecryptionError,
    KeyFileError,
    KeyNotConfigured,
    Keyring,
    load_keyring,
    read_key_file,
    use_keyring,
    write_key_file,
)
from daihou.compliance.privacy.masking import (
    mask_address,
    mask_bank_card,
    mask_employer,
    mask_id_number,
    mask_name,
    mask_phone,
)
from daihou.compliance.privacy.service import (
    agency_view,
    customer_profile,
    destroy_expired,
    expired_customers,
    find_customers,
    key_usage,
    reencrypt,
    reveal,
)
from daihou.db.engine import transaction
from daihou.loans.models import Customer, Loan
from tests.factories import add_loans, id_number, init_book, loan_row

AuditRecord = audit_models.AuditRecord
PrivacyReveal = privacy_models.PrivacyReveal
PERSONAL = ("name", "id_number", "phone", "address", "employer")
ID_A = id_number(101)
ID_B = id_number(202)


def actor(*roles: str, user: str = "u1") -> Actor:
    return Actor(user_id=user, roles=frozenset(roles))


@pytest.fixture
def keyring() -> Iterator[Keyring]:
    with use_keyring(Keyring.generate()) as ring:
        yield ring


def add_customer(
    engine: Engine,
    customer_id: str,
    *,
    ident: str = ID_A,
    phone: str = "13812345678",
    address: str | None = "北京市朝阳区建国路88号院3号楼2单元501",
    employer: str | None = "北京某某科技有限公司",
    loans: tuple[tuple[str, date | None], ...] = (),
) -> None:
    with transaction(engine) as session:
        session.add(
            Customer(
                id=customer_id,
                name="张三丰",
                id_number=ident,
                phone=phone,
                address=address,
                employer=employer,
            )
        )
        session.flush()
        for n, (status, closed_on) in enumerate(loans, 1):
            session.add(
                Loan(
                    id=f"L-{customer_id}-{n}",
                    customer_id=customer_id,
                    product="consumer",
                    principal=Decimal("1000.00"),
                    annual_rate=Decimal("0.12"),
                    current_rate=Decimal("0.12"),
                    term_months=12,
                    method="equal-installment",
                    disbursed_on=date(2020, 1, 15),
                    outstanding_principal=Decimal("0.00"),
                    status=status,
                    closed_on=closed_on,
                )
            )


def raw_customer(engine: Engine, customer_id: str) -> dict[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT name, id_number, phone, address, employer, id_number_hash, phone_hash "
                "FROM customers WHERE id = :id"
            ),
            {"id": customer_id},
        ).one()
    return dict(row._mapping)


# --------------------------------------------------------------------------- at rest


def test_values_are_ciphertext_in_the_database_and_plaintext_in_the_orm(
    engine: Engine, keyring: Keyring
) -> None:
    add_customer(engine, "C1")
    raw = raw_customer(engine, "C1")
    for field in PERSONAL:
        value = raw[field]
        assert value is not None and value.startswith(f"enc:v1:{keyring.active_id}:")
    assert "13812345678" not in json.dumps(raw) and "张三丰" not in json.dumps(
        raw, ensure_ascii=False
    )
    assert raw["id_number_hash"] == keyring.blind_index(ID_A, "id_number")
    assert raw["phone_hash"] == keyring.blind_index("13812345678", "phone")
    with transaction(engine) as session:
        customer = session.get(Customer, "C1")
        assert customer is not None
        assert (customer.name, customer.id_number, customer.phone) == (
            "张三丰",
            ID_A,
            "13812345678",
        )
        assert customer.address == "北京市朝阳区建国路88号院3号楼2单元501"


def test_the_same_value_encrypts_differently_each_time(engine: Engine, keyring: Keyring) -> None:
    add_customer(engine, "C1")
    add_customer(engine, "C2")
    assert raw_customer(engine, "C1")["phone"] != raw_customer(engine, "C2")["phone"]
    assert raw_customer(engine, "C1")["phone_hash"] == raw_customer(engine, "C2")["phone_hash"]


def test_a_column_at_a_time_equals_one_value_at_a_time(keyring: Keyring) -> None:
    # bulk writers (demo.customers) encrypt and hash a whole column in one call: the
    # same plaintexts back, a fresh nonce per value, None kept, the same keyed hashes
    values = ["13812345678", None, "010-12345678", "+86 138-1234-5678", "0086138123", "13812345678"]
    sealed = keyring.encrypt_column(values, "customers.phone")
    opened = [v if v is None else keyring.decrypt(v, "customers.phone") for v in sealed]
    assert opened == values
    assert sealed[0] != sealed[-1] and str(sealed[0]).startswith(keyring.active_prefix)
    hashes = keyring.blind_index_column(values, "phone")
    assert hashes == [keyring.blind_index(v, "phone") for v in values]
    assert hashes[0] == hashes[3] == hashes[5] and hashes[1] is None
    assert keyring.blind_index_column([ID_A, None], "id_number") == [
        keyring.blind_index(ID_A, "id_number"),
        None,
    ]


def test_core_inserts_encrypt_and_get_their_hashes(engine: Engine, keyring: Keyring) -> None:
    with transaction(engine) as session:
        session.execute(
            insert(Customer),
            [
                {"id": "K1", "name": "李四", "id_number": ID_B, "phone": "010-12345678"},
                {"id": "K2", "name": "王五", "id_number": ID_A, "phone": "13900000000"},
            ],
        )
    raw = raw_customer(engine, "K1")
    assert raw["name"] is not None and raw["name"].startswith("enc:v1:")
    assert raw["address"] is None
    assert raw["phone_hash"] == keyring.blind_index("010-12345678", "phone")
    with transaction(engine) as session:
        assert find_customers(session, phone="+86 10 1234 5678") == ["K1"]


def test_orm_updates_recompute_the_hash(engine: Engine, keyring: Keyring) -> None:
    add_customer(engine, "C1")
    with transaction(engine) as session:
        customer = session.get(Customer, "C1")
        assert customer is not None
        customer.phone = "13700001111"
    with transaction(engine) as session:
        assert find_customers(session, phone="13700001111") == ["C1"]
        assert find_customers(session, phone="13812345678") == []


def test_search_by_keyed_hash_normalises_the_query(engine: Engine, keyring: Keyring) -> None:
    lower_x = "11010519491231002x"
    add_customer(engine, "C1", ident=lower_x.upper())
    add_customer(engine, "C2", ident=ID_B, phone="13800000000")
    with transaction(engine) as session:
        assert find_customers(session, id_number=lower_x) == ["C1"]
        assert find_customers(session, id_number=f" {ID_B} ") == ["C2"]
        assert find_customers(session, phone="+86 138-1234-5678") == ["C1"]
        assert find_customers(session, phone="008613800000000") == ["C2"]
        assert find_customers(session, id_number=ID_B, phone="13812345678") == []
        with pytest.raises(ValueError):
            find_customers(session)


def test_sql_comparisons_on_encrypted_columns_are_refused(engine: Engine, keyring: Keyring) -> None:
    add_customer(engine, "C1", address=None)
    with pytest.raises(TypeError, match="encrypted"):
        select(Customer).where(Customer.phone == "13812345678")
    with pytest.raises(TypeError, match="encrypted"):
        select(Customer).where(Customer.name.like("张%"))
    with transaction(engine) as session:
        no_address = select(Customer.id).where(Customer.address.is_(None))
        assert list(session.execute(no_address).scalars()) == ["C1"]


def test_a_value_too_long_to_encrypt_into_its_column_is_refused(
    engine: Engine, keyring: Keyring
) -> None:
    with pytest.raises(StatementError, match="too long"):
        add_customer(engine, "C1", address="北" * 400)
    assert crypto.plaintext_capacity(1024) >= 200 * 3  # 200 Chinese characters fit


def test_the_bulk_import_writes_ciphertext_and_hashes(
    engine: Engine, keyring: Keyring, tmp_path: Path
) -> None:
    init_book(engine, date(2024, 6, 30))
    row = loan_row("IMP-1", phone="13911112222", address="上海市浦东新区张江镇", employer="某银行")
    add_loans(engine, tmp_path, [row, loan_row("IMP-2")])
    raw = raw_customer(engine, "C-IMP-1")
    for field in PERSONAL:
        assert str(raw[field]).startswith(f"enc:v1:{keyring.active_id}:")
    with transaction(engine) as session:
        assert find_customers(session, phone="13911112222") == ["C-IMP-1"]
        assert find_customers(session, id_number=row["id_number"]) == ["C-IMP-1"]
        customer = session.get(Customer, "C-IMP-1")
        assert customer is not None and customer.address == "上海市浦东新区张江镇"
    # --update changes customer data through the Core update path: hashes follow
    from daihou.loans.book import import_loans
    from tests.factories import write_csv

    changed = {**row, "phone": "13922223333"}
    import_loans(engine=engine, path=write_csv(tmp_path / "upd.csv", [changed]), update=True)
    with transaction(engine) as session:
        assert find_customers(session, phone="13922223333") == ["C-IMP-1"]
        assert find_customers(session, phone="13911112222") == []
    assert str(raw_customer(engine, "C-IMP-1")["phone"]).startswith("enc:v1:")


# --------------------------------------------------------------------------- keys


def test_a_wrong_key_gives_a_clear_error(engine: Engine) -> None:
    right = Keyring.generate()
    with use_keyring(right):
        add_customer(engine, "C1")
    same_id_other_secret = Keyring(
        [crypto.DataKey(right.active_id, os.urandom(32))], right.active_id
    )
    with (
        use_keyring(same_id_other_secret),
        transaction(engine) as session,
        pytest.raises(DecryptionError, match="key is wrong"),
    ):
        session.get(Customer, "C1")
    with (
        use_keyring(Keyring.generate()),
        transaction(engine) as session,
        pytest.raises(DecryptionError, match="not in the keyring"),
    ):
        session.get(Customer, "C1")


def test_a_ciphertext_moved_to_another_column_does_not_decrypt(
    engine: Engine, keyring: Keyring
) -> None:
    add_customer(engine, "C1")
    with engine.begin() as conn:
        conn.execute(text("UPDATE customers SET name = phone WHERE id = 'C1'"))
    with transaction(engine) as session, pytest.raises(DecryptionError):
        session.get(Customer, "C1")


def test_no_key_configured_refuses_to_write(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DAIHOU_DATA_KEY", raising=False)
    monkeypatch.delenv("DAIHOU_KEY_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    crypto.install_keyring(None)
    with pytest.raises(KeyNotConfigured, match="daihou keys init"):
        add_customer(engine, "C1")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM customers")).scalar_one() == 0


def test_plaintext_left_in_an_encrypted_column_is_not_read_silently(
    engine: Engine, keyring: Keyring
) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO customers (id, name, id_number, phone) VALUES ('P', 'x', 'y', 'z')")
        )
    with transaction(engine) as session, pytest.raises(DecryptionError, match="keys rotate"):
        session.get(Customer, "P")


def test_key_sources(tmp_path: Path) -> None:
    ring = Keyring.generate()
    path = tmp_path / "keys.json"
    write_key_file(path, ring, new=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_key_file(path).active_id == ring.active_id
    with pytest.raises(KeyFileError, match="never overwritten"):
        write_key_file(path, Keyring.generate(), new=True)
    secret_a, secret_b = os.urandom(32), os.urandom(32)
    b64 = [base64.b64encode(s).decode() for s in (secret_a, secret_b)]
    lines = tmp_path / "keys.txt"
    lines.write_text(f"# old first\nold:{b64[0]}\nnew:{b64[1]}\n")
    from_lines = load_keyring({"DAIHOU_KEY_FILE": str(lines)})
    assert from_lines.active_id == "new" and set(from_lines.keys) == {"old", "new"}
    from_env = load_keyring({"DAIHOU_DATA_KEY": f"new:{b64[1]},old:{b64[0]}"})
    assert from_env.active_id == "new"
    token = from_lines.encrypt("13812345678", "customers.phone")
    assert from_env.decrypt(token, "customers.phone") == "13812345678"
    bare = load_keyring({"DAIHOU_DATA_KEY": b64[0]})
    assert bare.active_id.startswith("e") and len(bare.keys) == 1
    with pytest.raises(KeyFileError, match="not both"):
        load_keyring({"DAIHOU_DATA_KEY": b64[0], "DAIHOU_KEY_FILE": str(lines)})
    with pytest.raises(KeyFileError, match="32"):
        load_keyring({"DAIHOU_DATA_KEY": base64.b64encode(b"short").decode()})
    with pytest.raises(KeyFileError, match="does not exist"):
        load_keyring({"DAIHOU_KEY_FILE": str(tmp_path / "missing")})


def test_rotation_reencrypts_everything_and_the_old_key_is_no_longer_needed(
    engine: Engine,
) -> None:
    old = Keyring.generate()
    with use_keyring(old):
        for n in range(5):
            add_customer(engine, f"C{n}", phone=f"1380000000{n}")
    with engine.begin() as conn:  # one row written before encryption existed
        conn.execute(
            text(
                "INSERT INTO customers (id, name, id_number, phone) "
                "VALUES ('LEGACY', '赵六', :ident, '13600000000')"
            ),
            {"ident": ID_B},
        )
    both = old.with_new_active()
    with transaction(engine) as session:
        usage = key_usage(session, keyring=both)
    assert usage[old.active_id] == 25 and usage["plaintext"] == 3 and usage[both.active_id] == 0

    class Stop(Exception):
        pass

    def stop_after_first_batch(_table: str, _done: int) -> None:
        raise Stop

    with pytest.raises(Stop):  # interrupted after one committed batch of 2 rows
        reencrypt(engine, keyring=both, batch_size=2, progress=stop_after_first_batch)
    with transaction(engine) as session:
        assert key_usage(session, keyring=both)[both.active_id] == 10
    assert reencrypt(engine, keyring=both, batch_size=2) == 4  # resumes with the rest

    new_only = both.without([old.active_id])
    with use_keyring(new_only), transaction(engine) as session:
        usage = key_usage(session, keyring=new_only)
        assert usage == {new_only.active_id: 28, "plaintext": 0, "unknown": 0}
        customers = session.execute(select(Customer).order_by(Customer.id)).scalars().all()
        assert [c.phone for c in customers][:2] == ["13800000000", "13800000001"]
        assert find_customers(session, phone="13600000000") == ["LEGACY"]
        assert find_customers(session, id_number=ID_A) == [f"C{n}" for n in range(5)]
    assert reencrypt(engine, keyring=new_only) == 0


def test_search_finds_rows_not_yet_rotated(engine: Engine) -> None:
    old = Keyring.generate()
    with use_keyring(old):
        add_customer(engine, "C1")
    with use_keyring(old.with_new_active()), transaction(engine) as session:
        assert find_customers(session, phone="13812345678") == ["C1"]


# --------------------------------------------------------------------------- masks


@pytest.mark.parametrize(
    ("mask", "value", "expected"),
    [
        (mask_phone, "13812345678", "138****5678"),
        (mask_phone, "010-12345678", "010-****5678"),
        (mask_id_number, "110101199003071234", "110101********1234"),
        (mask_id_number, "110101900307123", "110101*****7123"),
        (mask_name, "张三丰", "张**"),
        (mask_name, "李四", "李*"),
        (mask_name, "欧阳娜娜", "欧***"),
        (mask_bank_card, "6222021234567891234", "6222 **** **** 1234"),
        (mask_bank_card, "6222 0212 3456 7890", "6222 **** **** 7890"),
        (mask_employer, "北京某某科技有限公司", "北京****"),
        (mask_address, "北京市朝阳区建国路88号院3号楼2单元501", "北京市朝阳区****"),
        (mask_address, "广东省深圳市南山区科技园南区高新南一道", "广东省深圳市南山区****"),
        (mask_address, "上海市浦东新区张江镇碧波路690号", "上海市浦东新区****"),
        (mask_address, "江苏省苏州市昆山市玉山镇前进西路", "江苏省苏州市昆山市****"),
        (mask_address, "浙江省杭州市西湖区文三路90号", "浙江省杭州市西湖区****"),
        (mask_address, "河北省石家庄市正定县城关镇", "河北省石家庄市正定县****"),
        (mask_address, "北京市通州区梨园镇", "北京市通州区****"),
        (
            mask_address,
            "新疆维吾尔自治区乌鲁木齐市天山区解放北路",
            "新疆维吾尔自治区乌鲁木齐市天山区****",
        ),
        (
            mask_address,
            "湖北省恩施土家族苗族自治州恩施市舞阳坝",
            "湖北省恩施土家族苗族自治州恩施市****",
        ),
        (mask_address, "广东省东莞市南城街道鸿福路106号", "广东省东莞市****"),
        (mask_address, "重庆市渝中区解放碑", "重庆市渝中区****"),
        (mask_address, "阳光小区5栋301", "****"),
        (mask_address, "Room 5, 88 Jianguo Road", "****"),
        (mask_phone, None, None),
        (mask_name, TOMBSTONE, TOMBSTONE),
    ],
)
def test_masks(mask: object, value: str | None, expected: str | None) -> None:
    assert mask(value) == expected  # type: ignore[operator]


# --------------------------------------------------------------------------- reveal


def test_profiles_and_agency_views_are_masked(engine: Engine, keyring: Keyring) -> None:
    add_customer(engine, "C1", ident="110101199003071234")
    with transaction(engine) as session:
        profile = customer_profile(session, "C1", actor=actor("admin"))
        assert (profile.name, profile.id_number, profile.phone, profile.address) == (
            "张**",
            "110101********1234",
            "138****5678",
            "北京市朝阳区****",
        )
        assert profile.masked
        (view,) = agency_view(session, customer_ids=["C1"], actor=actor("admin"))
        assert view.phone == "138****5678" and view.employer == "北京****"
        with pytest.raises(LookupError):
            customer_profile(session, "nobody", actor=actor("admin"))


@pytest.mark.parametrize(
    ("roles", "field", "allowed"),
    [
        (("supervisor",), "id_number", True),
        (("compliance-officer",), "address", True),
        (("operations",), "name", True),
        (("admin",), "employer", True),
        (("collector-junior",), "phone", True),
        (("collector-senior",), "id_number", False),
        (("collector-junior",), "address", False),
        (("auditor",), "phone", False),
        (("agency-user",), "phone", False),
        (("risk-analyst",), "name", False),
        (("system",), "phone", False),
        (("agency-user", "supervisor"), "id_number", True),
    ],
)
def test_reveal_rights_by_role(
    engine: Engine, keyring: Keyring, roles: tuple[str, ...], field: str, allowed: bool
) -> None:
    add_customer(engine, "C1")
    who = actor(*roles, user="u-42")
    expected = {"name": "张三丰", "id_number": ID_A, "phone": "13812345678"}
    with transaction(engine) as session:
        if allowed:
            value = reveal(
                session, actor=who, customer_id="C1", field=field, reason="customer called in"
            )
            stored = session.get(Customer, "C1")
            assert stored is not None and value == getattr(stored, field)
            assert value == expected.get(field, value)
        else:
            with pytest.raises(PermissionError, match=field):
                reveal(session, actor=who, customer_id="C1", field=field, reason="curious")
    with transaction(engine) as session:
        logged = session.execute(select(PrivacyReveal)).scalars().all()
        audited = session.execute(select(AuditRecord)).scalars().all()
    assert len(logged) == len(audited) == (1 if allowed else 0)


def test_every_reveal_is_logged_and_audited(engine: Engine, keyring: Keyring) -> None:
    add_customer(engine, "C1")
    with transaction(engine) as session:
        assert (
            reveal(
                session,
                actor=actor("supervisor", user="sup-1"),
                customer_id="C1",
                field="phone",
                reason="promise to pay follow-up",
            )
            == "13812345678"
        )
        with pytest.raises(ValueError, match="reason"):
            reveal(session, actor=actor("admin"), customer_id="C1", field="phone", reason=" ")
        with pytest.raises(ValueError, match="unknown"):
            reveal(session, actor=actor("admin"), customer_id="C1", field="salary", reason="x")
        with pytest.raises(LookupError):
            reveal(session, actor=actor("admin"), customer_id="C9", field="phone", reason="x")
    with transaction(engine) as session:
        (log,) = session.execute(select(PrivacyReveal)).scalars().all()
        assert (log.actor_id, log.customer_id, log.field, log.reason) == (
            "sup-1",
            "C1",
            "phone",
            "promise to pay follow-up",
        )
        entry = session.get(AuditRecord, log.audit_id)
        assert entry is not None and entry.action == "privacy.reveal"
        assert entry.object_id == "C1" and entry.at == log.at
        assert json.loads(entry.basis or "")["reason"] == "promise to pay follow-up"
        assert verify(session).ok


# --------------------------------------------------------------------------- retention


def test_retention_destroys_only_customers_whose_loans_all_closed_before(
    engine: Engine, keyring: Keyring
) -> None:
    cutoff = date(2021, 1, 1)
    add_customer(
        engine, "GONE", loans=(("closed", date(2019, 5, 1)), ("closed", date(2020, 12, 31)))
    )
    add_customer(engine, "RECENT", loans=(("closed", date(2021, 1, 1)),))
    add_customer(engine, "ACTIVE", loans=(("active", None),))
    add_customer(engine, "MIXED", loans=(("closed", date(2018, 1, 1)), ("active", None)))
    add_customer(engine, "NOLOAN")
    with transaction(engine) as session:
        assert expired_customers(session, before=cutoff) == ["GONE"]
        assert destroy_expired(session, before=cutoff, actor=SYSTEM) == 1
    raw = raw_customer(engine, "GONE")
    assert all(raw[f] == TOMBSTONE for f in PERSONAL)
    assert raw["id_number_hash"] is None and raw["phone_hash"] is None
    with transaction(engine) as session:
        gone = customer_profile(session, "GONE", actor=actor("admin"))
        assert gone.name == TOMBSTONE and gone.phone == TOMBSTONE
        assert find_customers(session, phone="13812345678") == [
            "ACTIVE",
            "MIXED",
            "NOLOAN",
            "RECENT",
        ]
        kept = session.get(Customer, "RECENT")
        assert kept is not None and kept.phone == "13812345678"
        (entry,) = session.execute(select(AuditRecord)).scalars().all()
        assert (entry.action, entry.object_id) == ("privacy.destroy", "GONE")
        basis = json.loads(entry.basis or "")
        assert basis["closed_before"] == "2021-01-01" and len(basis["loans"]) == 2
        assert entry.before_digest is None
        assert verify(session).ok
        assert destroy_expired(session, before=cutoff, actor=SYSTEM) == 0  # idempotent
        assert session.execute(select(func.count()).select_from(AuditRecord)).scalar_one() == 1


# --------------------------------------------------------------------------- CLI


def cli() -> typer.Typer:
    app = typer.Typer()
    compliance_data.register(app)
    return app


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "test.keys"
    monkeypatch.delenv("DAIHOU_DATA_KEY", raising=False)
    monkeypatch.setenv("DAIHOU_KEY_FILE", str(path))
    crypto.install_keyring(None)
    yield path


def test_cli_keys_privacy_and_retention(engine: Engine, db_url: str, key_file: Path) -> None:
    runner = CliRunner()
    app = cli()
    init = runner.invoke(app, ["keys", "init"])
    assert init.exit_code == 0, init.output
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert runner.invoke(app, ["keys", "init"]).exit_code == 1  # never overwrites
    first = read_key_file(key_file).active_id
    add_customer(engine, "C1", loans=(("closed", date(2015, 3, 1)),))
    add_customer(engine, "C2", ident=ID_B, phone="13700000000", loans=(("active", None),))

    shown = runner.invoke(app, ["privacy", "show", "C1", "--db", db_url])
    assert (
        shown.exit_code == 0 and "138****5678" in shown.output and "13812345678" not in shown.output
    )
    found = runner.invoke(app, ["privacy", "find", "--phone", "13700000000", "--db", db_url])
    assert found.output.split() == ["C2"]
    revealed = runner.invoke(
        app, ["privacy", "reveal", "C2", "id_number", "--reason", "court order 17", "--db", db_url]
    )
    assert revealed.exit_code == 0 and revealed.output.strip() == ID_B

    rotated = runner.invoke(app, ["keys", "rotate", "--batch-size", "1", "--db", db_url])
    assert rotated.exit_code == 0, rotated.output
    ring = read_key_file(key_file)
    assert ring.active_id != first and set(ring.keys) == {first, ring.active_id}
    pruned = runner.invoke(app, ["keys", "prune", "--db", db_url])
    assert pruned.exit_code == 0 and first in pruned.output
    assert set(read_key_file(key_file).keys) == {ring.active_id}
    assert runner.invoke(app, ["keys", "status", "--db", db_url]).exit_code == 0

    dry = runner.invoke(
        app, ["privacy", "destroy", "--closed-before", "2020-01-01", "--dry-run", "--db", db_url]
    )
    assert dry.exit_code == 0 and "C1" in dry.output and "1 customers would" in dry.output
    assert raw_customer(engine, "C1")["name"] != TOMBSTONE
    done = runner.invoke(
        app, ["privacy", "destroy", "--closed-before", "2020-01-01", "--db", db_url]
    )
    assert done.exit_code == 0 and "of 1 customers" in done.output
    assert raw_customer(engine, "C1")["name"] == TOMBSTONE
    with transaction(engine) as session:
        actions = session.execute(select(AuditRecord.action).order_by(AuditRecord.id)).scalars()
        assert list(actions) == ["privacy.reveal", "keys.rotate", "privacy.destroy"]
    assert runner.invoke(app, ["audit", "verify", "--db", db_url]).exit_code == 0


def test_cli_without_a_key_says_how_to_make_one(
    engine: Engine, db_url: str, key_file: Path
) -> None:
    out = CliRunner().invoke(cli(), ["privacy", "find", "--phone", "13812345678", "--db", db_url])
    assert out.exit_code == 1 and "daihou keys init" in out.output
