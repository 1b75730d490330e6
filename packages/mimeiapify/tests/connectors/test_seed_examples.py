"""Every Airtable and Wompi example of the seed README, run against the emulators.

The snippets below are copied from the seed as they are (the rate-limiting
ones dedented out of their list item). The only edits are made at run time by
:func:`run_snippet`: quoted placeholders (``"your_base_id"``, ``"api_key"``,
...) are replaced by real values from the emulators. Base URLs come from the
environment (``AIRTABLE_API_URL``, ``WOMPI_API_URL``, set by the fixtures);
the private Wompi key from ``WOMPI_PRIVATE_KEY``. Snippets that use names
imported by an earlier block of the README (``AirtableAsync``, ``WompiAsync``,
``asyncio``, ``app``) run in a namespace that holds them, like the reader's
session would.
"""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from mimeiapify.airtable_async import AirtableAsync
from mimeiapify.wompi_async import WompiAsync

pytestmark = pytest.mark.integration

API_KEY = "pat_emulator_token"


def run_snippet(
    code: str, placeholders: dict[str, str], namespace: dict[str, Any] | None = None
) -> dict[str, Any]:
    for placeholder, value in placeholders.items():
        assert placeholder in code, f"{placeholder} is not in the snippet"
        code = code.replace(placeholder, f'"{value}"')
    ns = namespace if namespace is not None else {}
    ns.setdefault("__name__", "seed_example")
    exec(compile(code, "<seed example>", "exec"), ns)
    return ns


def table_id(base: dict[str, Any], name: str = "Tasks") -> str:
    return next(t["id"] for t in base["tables"] if t["name"] == name)


# ---------------------------------------------------------------- Airtable


SYNC_USAGE = """
from mimeiapify import Airtable

# Initialize
airtable = Airtable(base_id="your_base_id", api_key="your_api_key")

# Fetch Schema
schema = airtable.get_schema()
print(schema)
"""


def test_sync_usage(base: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    ns = run_snippet(SYNC_USAGE, {'"your_base_id"': base["id"], '"your_api_key"': API_KEY})
    assert [t["name"] for t in ns["schema"]["tables"]] == ["Tasks"]
    assert "Tasks" in capsys.readouterr().out


ASYNC_USAGE = """
from mimeiapify.airtable_async import AirtableAsync
import asyncio

async def main():
    # Initialize
    airtable_async = AirtableAsync(base_id="your_base_id", api_key="your_api_key")

    # Example: Fetch schema asynchronously
    schema = await airtable_async.get_schema()
    print(schema)

# Run the async entry point
asyncio.run(main())
"""


def test_async_usage(base: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    run_snippet(ASYNC_USAGE, {'"your_base_id"': base["id"], '"your_api_key"': API_KEY})
    assert table_id(base) in capsys.readouterr().out


SESSION_AUTOMATIC = """
# Session is created when needed and closed when done
async def fetch_data():
    airtable = AirtableAsync(base_id="your_base_id", api_key="your_api_key")
    data = await airtable.fetch_records("your_table_id")
    # Session is automatically cleaned up when airtable is garbage collected
    return data
"""

SESSION_CONTEXT = """
async def fetch_with_context():
    async with AirtableAsync(base_id="your_base_id", api_key="your_api_key") as airtable:
        # Session is created when entering the context
        data = await airtable.fetch_records("your_table_id")
        # Session is automatically closed when exiting the context
        return data
"""

SESSION_SHARED = """
import aiohttp

async def fetch_with_shared_session():
    # Create a shared session
    async with aiohttp.ClientSession() as session:
        # Pass the session to both clients
        airtable = AirtableAsync(base_id="your_base_id", api_key="your_api_key", session=session)
        wompi = WompiAsync(public_key="your_key", integrity_key="your_key", session=session)
        
        # Make API calls with both clients using the same session
        airtable_data = await airtable.fetch_records("your_table_id")
        wompi_data = await wompi.get_transaction_by_reference("your_reference")
        
        # The shared session is managed by the caller, not the API clients
        return airtable_data, wompi_data
"""  # noqa: W293 - trailing spaces are the seed's


def _seed_records(base_id: str, tid: str, n: int) -> None:
    from mimeiapify import Airtable

    with Airtable(base_id, API_KEY) as airtable:
        airtable.create_records(tid, [{"fields": {"Name": f"row {i}"}} for i in range(n)])


def _run_without_unclosed_warnings(coro_factory: Any) -> Any:
    """Run a coroutine in a fresh loop; fail on any unclosed-session report."""
    reports: list[str] = []

    async def runner() -> Any:
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, ctx: reports.append(str(ctx.get("message")))
        )
        result = await coro_factory()
        gc.collect()
        await asyncio.sleep(0)
        return result

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = asyncio.run(runner())
        gc.collect()
    messages = reports + [str(w.message) for w in caught]
    # aiohttp's own reports; other tests' stray sockets are not this test's business
    leaks = [m for m in messages if m.startswith(("Unclosed client session", "Unclosed conn"))]
    assert not leaks, leaks
    return result


def test_three_session_modes(
    base: dict[str, Any], merchant: dict[str, str], wompi_server: Any
) -> None:
    tid = table_id(base)
    _seed_records(base["id"], tid, 3)
    # a transaction with a known reference, for the shared-session example
    reference = "shared-session-ref-1"

    async def pay() -> None:
        async with WompiAsync(
            merchant["public_key"], integrity_key=merchant["integrity_secret"]
        ) as wompi:
            token = await wompi.tokenize_card("4242424242424242", "123", "08", "29", "Ana")
            await wompi.create_transaction(
                2000, "ana@example.com", {"type": "CARD", "token": token, "installments": 1},
                reference=reference,
            )  # fmt: skip

    asyncio.run(pay())
    values = {'"your_base_id"': base["id"], '"your_api_key"': API_KEY, '"your_table_id"': tid}
    ns: dict[str, Any] = {"AirtableAsync": AirtableAsync, "WompiAsync": WompiAsync}
    run_snippet(SESSION_AUTOMATIC, values, ns)
    run_snippet(SESSION_CONTEXT, values, ns)
    shared = {**values, '"your_key"': merchant["public_key"], '"your_reference"': reference}
    run_snippet(SESSION_SHARED, shared, ns)

    auto = _run_without_unclosed_warnings(ns["fetch_data"])
    ctx = _run_without_unclosed_warnings(ns["fetch_with_context"])
    airtable_data, wompi_data = _run_without_unclosed_warnings(ns["fetch_with_shared_session"])
    assert len(auto) == len(ctx) == len(airtable_data) == 3
    assert [t["reference"] for t in wompi_data] == [reference]


FASTAPI_RECORDS = """
from fastapi import FastAPI
from mimeiapify.airtable_async import AirtableAsync

app = FastAPI()

@app.get("/records")
async def get_records():
    airtable_async = AirtableAsync(base_id="your_base_id", api_key="your_api_key")
    records = await airtable_async.fetch_records(table_id="your_table_id")
    return {"records": records}
"""

FASTAPI_PARALLEL = """
@app.get("/parallel")
async def parallel_requests():
    airtable_async = AirtableAsync(base_id="your_base_id", api_key="your_api_key")

    # Suppose you want to fetch records from two different tables concurrently:
    task1 = airtable_async.fetch_records(table_id="Table1")
    task2 = airtable_async.fetch_records(table_id="Table2")

    results = await asyncio.gather(task1, task2)
    return {"table1": results[0], "table2": results[1]}
"""

FASTAPI_MANAGER_SHORT = """
class AirtableManager:
    def __init__(self, base_id: str, api_key: str):
        self.airtable = AirtableAsync(base_id, api_key)

    async def fetch_two_tables(self):
        table1, table2 = await asyncio.gather(
            self.airtable.fetch_records("Table1"),
            self.airtable.fetch_records("Table2")
        )
        return table1, table2

@app.get("/manager-example")
async def manager_example():
    manager = AirtableManager(base_id="your_base_id", api_key="your_api_key")
    table1, table2 = await manager.fetch_two_tables()
    return {"table1": table1, "table2": table2}
"""

FASTAPI_MANAGER_FULL = '''
import asyncio
from fastapi import FastAPI
from mimeiapify.airtable_async import AirtableAsync

# 1) Create a Manager class that holds a single AirtableAsync instance
class AirtableManager:
    def __init__(self, base_id: str, api_key: str):
        # Here we initialize exactly one AirtableAsync client
        self.airtable = AirtableAsync(base_id, api_key)

    async def fetch_two_tables(self):
        """
        Example method that fetches data from two separate tables in parallel (asynchronously).
        """
        # asyncio.gather will run these two coroutines concurrently
        table1, table2 = await asyncio.gather(
            self.airtable.fetch_records("Table1"),
            self.airtable.fetch_records("Table2")
        )
        return table1, table2

# 2) Create a FastAPI app
app = FastAPI()

@app.get("/manager-example")
async def manager_example():
    """
    Example FastAPI endpoint that uses the AirtableManager to fetch data from two tables.
    """
    # Instantiate the manager (in real code, you might do this once at startup)
    manager = AirtableManager(base_id="your_base_id", api_key="your_api_key")
    
    # Call the manager method which performs concurrent Airtable calls
    table1, table2 = await manager.fetch_two_tables()

    return {"table1": table1, "table2": table2}
'''  # noqa: W293


@pytest.fixture
def two_table_base(airtable_env: Any) -> dict[str, Any]:
    from mimeiapify import Airtable

    tables = [
        {"name": name, "fields": [{"name": "Name", "type": "singleLineText"}]}
        for name in ("Tasks", "Table1", "Table2")
    ]
    created = airtable_env.create_base(tables)
    with Airtable(created["id"], API_KEY) as airtable:
        airtable.create_records("Tasks", [{"Name": "task"}])
        airtable.create_records("Table1", [{"Name": f"one {i}"} for i in range(12)])
        airtable.create_records("Table2", [{"Name": "two"}])
    return created


def test_fastapi_examples(two_table_base: dict[str, Any], served: Any) -> None:
    values = {
        '"your_base_id"': two_table_base["id"],
        '"your_api_key"': API_KEY,
        '"your_table_id"': table_id(two_table_base),
    }
    ns = run_snippet(FASTAPI_RECORDS, values, {"asyncio": asyncio})
    run_snippet(FASTAPI_PARALLEL, {k: v for k, v in values.items() if k != '"your_table_id"'}, ns)
    run_snippet(
        FASTAPI_MANAGER_SHORT, {k: values[k] for k in ('"your_base_id"', '"your_api_key"')}, ns
    )
    app_url = served(ns["app"])
    # fetch_records gives a DataFrame (as in 1.4); FastAPI encodes it column by column
    records = requests.get(f"{app_url}/records", timeout=30).json()["records"]
    assert records["Name"] == {"0": "task"} and records["record_id"]["0"].startswith("rec")
    parallel = requests.get(f"{app_url}/parallel", timeout=30).json()
    assert len(parallel["table1"]["Name"]) == 12 and len(parallel["table2"]["Name"]) == 1
    manager = requests.get(f"{app_url}/manager-example", timeout=30).json()
    assert len(manager["table1"]["Name"]) == 12 and manager["table2"]["Name"] == {"0": "two"}

    full = run_snippet(
        FASTAPI_MANAGER_FULL, {k: values[k] for k in ('"your_base_id"', '"your_api_key"')}
    )
    full_url = served(full["app"])
    manager = requests.get(f"{full_url}/manager-example", timeout=30).json()
    assert len(manager["table1"]["Name"]) == 12 and len(manager["table2"]["Name"]) == 1


RATE_LIMIT_SLEEP = """
from mimeiapify.airtable_async import AirtableAsync
import asyncio

async def create_records_with_sleep():
    airtable = AirtableAsync(base_id="your_base_id", api_key="your_api_key")
    await airtable.create_records("your_table_id", [{"fields": {"Name": "Test"}}])
    await asyncio.sleep(1.0)  # Sleep for 1 second before next request
"""

RATE_LIMIT_DECORATOR = """
import asyncio
import functools
from mimeiapify.airtable_async import AirtableAsync

def rate_limit(delay: float = 1.0):
    def decorator(func):
        @functools.wraps(func)
        async def wrapper(*args, **kwargs):
            result = await func(*args, **kwargs)
            await asyncio.sleep(delay)
            return result
        return wrapper
    return decorator

@rate_limit(delay=2.0)
async def create_record_decorated():
    airtable = AirtableAsync("base_id", "api_key")
    return await airtable.create_records("table_id", [{"fields": {"Name": "Decorated"}}])

# Usage
# records = await create_record_decorated()  # This will always wait 2 seconds after finishing
"""

RATE_LIMIT_SEMAPHORE = """
import asyncio
from mimeiapify.airtable_async import AirtableAsync

# Global semaphore (e.g., allow 5 concurrent Airtable calls)
airtable_semaphore = asyncio.Semaphore(5)

async def fetch_with_semaphore():
    async with airtable_semaphore:
        # Your code here
        airtable = AirtableAsync("base_id", "api_key")
        return await airtable.fetch_records("table_id")

async def main():
    # Launch many tasks, each must acquire the semaphore first
    tasks = [fetch_with_semaphore() for _ in range(20)]
    return await asyncio.gather(*tasks)

# results = asyncio.run(main())
"""


def test_rate_limiting_examples(base: dict[str, Any], airtable_env: Any) -> None:
    tid = table_id(base)
    ns = run_snippet(
        RATE_LIMIT_SLEEP,
        {'"your_base_id"': base["id"], '"your_api_key"': API_KEY, '"your_table_id"': tid},
    )
    asyncio.run(ns["create_records_with_sleep"]())
    short = {'"base_id"': base["id"], '"api_key"': API_KEY, '"table_id"': tid}
    ns = run_snippet(RATE_LIMIT_DECORATOR, short)
    created = asyncio.run(ns["create_record_decorated"]())
    assert created[0]["fields"] == {"Name": "Decorated"}
    ns = run_snippet(RATE_LIMIT_SEMAPHORE, short)
    results = asyncio.run(ns["main"]())
    assert len(results) == 20
    assert all(sorted(rows["Name"]) == ["Decorated", "Test"] for rows in results)
    assert airtable_env.stats(base["id"])["rate_limited"] == 0


GETTING_HELP = """
help(AirtableAsync.fetch_records)
help(WompiAsync.generate_checkout_url)
"""


def test_getting_help(capsys: pytest.CaptureFixture[str]) -> None:
    run_snippet(GETTING_HELP, {}, {"AirtableAsync": AirtableAsync, "WompiAsync": WompiAsync})
    out = capsys.readouterr().out
    assert "all pages" in out and "integrity signature" in out


# ---------------------------------------------------------------- Wompi


WOMPI_ASYNC_USAGE = """
from mimeiapify.wompi_async import WompiAsync
import asyncio

async def main():
    # Initialize
    wompi = WompiAsync(
        public_key="your_public_key", 
        integrity_key="your_integrity_key",
        environment="sandbox"  # or "production"
    )

    # Example: Generate a checkout URL
    checkout_data = await wompi.generate_checkout_url(
        amount_in_cents=10000,  # 100.00 in currency
        currency="COP",
        redirect_url="https://your-site.com/success"
    )
    
    print(f"Checkout URL: {checkout_data['checkout_url']}")
    print(f"Reference: {checkout_data['reference']}")

# Run the async entry point
asyncio.run(main())
"""  # noqa: W291, W293


def test_wompi_async_usage(
    merchant: dict[str, str], wompi_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    run_snippet(
        WOMPI_ASYNC_USAGE,
        {'"your_public_key"': merchant["public_key"],
         '"your_integrity_key"': merchant["integrity_secret"]},
    )  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    url = lines[0].removeprefix("Checkout URL: ")
    assert lines[1].startswith("Reference: ") and len(lines[1]) > len("Reference: ")
    # the emulated checkout accepts the URL only if the integrity signature is right
    opened = requests.get(url, timeout=10)
    assert opened.status_code == 200, opened.text
    assert opened.json()["data"]["amount_in_cents"] == 10000


WOMPI_CHECKOUT = """
from mimeiapify.wompi_async import WompiAsync
import asyncio

async def create_payment_link():
    wompi = WompiAsync(
        public_key="your_public_key", 
        integrity_key="your_integrity_key"
    )
    
    # Generate a checkout URL with custom parameters
    checkout_data = await wompi.generate_checkout_url(
        amount_in_cents=15000,
        currency="COP",
        reference="INV-001",  # Optional: provide your own reference
        redirect_url="https://yoursite.com/payment/success",
        expiration_time="2023-12-31T23:59:59+00:00",  # ISO8601 format
        tax_vat_in_cents=2850,  # VAT/IVA
        customer_data={
            "email": "customer@example.com",
            "full-name": "John Doe",
            "phone-number": "3001234567",
            "phone-number-prefix": "+57"  # Colombia
        },
        collect_shipping=False
    )
    
    return checkout_data["checkout_url"]
"""  # noqa: W291, W293


def test_wompi_checkout_example(merchant: dict[str, str]) -> None:
    ns = run_snippet(
        WOMPI_CHECKOUT,
        {'"your_public_key"': merchant["public_key"],
         '"your_integrity_key"': merchant["integrity_secret"]},
    )  # fmt: skip
    url = asyncio.run(ns["create_payment_link"]())
    params = dict(parse_qsl(urlsplit(url).query))
    assert params["reference"] == "INV-001" and params["tax-in-cents:vat"] == "2850"
    assert params["customer-data:full-name"] == "John Doe"
    assert params["customer-data:phone-number-prefix"] == "+57"
    assert params["collect-shipping"] == "false"
    # the sandbox checkout accepts the signature, then says the 2023 link has expired
    opened = requests.get(url, timeout=10)
    assert opened.status_code == 422
    assert list(opened.json()["error"]["messages"]) == ["expiration-time"]


WOMPI_WEBHOOK = """
from mimeiapify.wompi_async import WompiAsync
from fastapi import FastAPI, Request, HTTPException

app = FastAPI()

@app.post("/wompi-webhook")
async def handle_wompi_webhook(request: Request):
    # Get the raw event data from the request
    event_data = await request.json()
    
    # Your Events Secret from the Wompi dashboard
    events_secret = "your_events_secret"
    
    # Verify the event is authentic
    is_valid = WompiAsync.verify_webhook_event(event_data, events_secret)
    
    if not is_valid:
        raise HTTPException(status_code=400, detail="Invalid webhook signature")
    
    # Process the valid event
    event_type = event_data.get("event")
    if event_type == "transaction.updated":
        # Handle successful payment
        transaction = event_data.get("data", {}).get("transaction", {})
        status = transaction.get("status")
        
        if status == "APPROVED":
            # Payment was successful
            reference = transaction.get("reference")
            amount = transaction.get("amount_in_cents")
            
            # Update your database or perform business logic
            await update_order_status(reference, "paid", amount)
    
    return {"status": "success"}
"""  # noqa: W293


def test_wompi_webhook_example(merchant: dict[str, str], wompi_server: Any, served: Any) -> None:
    orders: list[tuple[str, str, int]] = []

    async def update_order_status(reference: str, status: str, amount: int) -> None:
        orders.append((reference, status, amount))

    ns = run_snippet(
        WOMPI_WEBHOOK,
        {'"your_events_secret"': merchant["events_secret"]},
        {"update_order_status": update_order_status},
    )
    url = served(ns["app"])
    requests.patch(
        f"{wompi_server.url}/_emulator/merchants/{merchant['public_key']}",
        json={"events_url": f"{url}/wompi-webhook"},
        timeout=10,
    ).raise_for_status()

    async def pay() -> dict[str, Any]:
        async with WompiAsync(
            merchant["public_key"], integrity_key=merchant["integrity_secret"]
        ) as wompi:
            token = await wompi.tokenize_card("4242424242424242", "123", "08", "29", "Ana")
            return await wompi.create_transaction(
                4490000, "ana@example.com", {"type": "CARD", "token": token, "installments": 1},
                reference="order-77",
            )  # fmt: skip

    tx = asyncio.run(pay())
    deadline = time.monotonic() + 10
    while not orders:
        assert time.monotonic() < deadline, "the signed event never reached the app"
        time.sleep(0.05)
    assert orders == [("order-77", "paid", 4490000)]
    deliveries = requests.get(f"{wompi_server.url}/_emulator/events", timeout=10).json()["data"]
    mine = [d for d in deliveries if d["event"]["data"]["transaction"]["id"] == tx["id"]]
    assert mine and mine[-1]["status"] == 200

    # a tampered event is refused by the seed's handler
    forged = dict(mine[-1]["event"])
    forged["data"] = {"transaction": {**forged["data"]["transaction"], "amount_in_cents": 1}}
    refused = requests.post(f"{url}/wompi-webhook", json=forged, timeout=10)
    assert refused.status_code == 400 and len(orders) == 1


WOMPI_TRANSACTION = """
from mimeiapify.wompi_async import WompiAsync
import asyncio

async def check_transaction_status(reference):
    async with WompiAsync(
        public_key="your_public_key", 
        integrity_key="your_integrity_key"
    ) as wompi:
        # Get transactions by reference
        transactions = await wompi.get_transaction_by_reference(reference)
        
        if transactions:
            # Get the first matching transaction
            transaction_id = transactions[0]["id"]
            
            # Get detailed transaction information
            details = await wompi.get_transaction(transaction_id)
            
            return {
                "status": details["data"]["status"],
                "payment_method": details["data"]["payment_method_type"],
                "amount": details["data"]["amount_in_cents"] / 100,  # Convert to currency units
                "created_at": details["data"]["created_at"]
            }
        
        return {"status": "not_found"}
"""  # noqa: W291, W293


def test_wompi_transaction_example(merchant: dict[str, str]) -> None:
    ns = run_snippet(
        WOMPI_TRANSACTION,
        {'"your_public_key"': merchant["public_key"],
         '"your_integrity_key"': merchant["integrity_secret"]},
    )  # fmt: skip

    async def pay() -> None:
        async with WompiAsync(
            merchant["public_key"], integrity_key=merchant["integrity_secret"]
        ) as wompi:
            await wompi.create_transaction(
                125000, "b@example.com", {"type": "NEQUI", "phone_number": "3991111111"},
                reference="nequi-1",
            )  # fmt: skip

    asyncio.run(pay())
    found = asyncio.run(ns["check_transaction_status"]("nequi-1"))
    assert found["payment_method"] == "NEQUI" and found["amount"] == 1250.0
    assert found["status"] in ("PENDING", "APPROVED") and found["created_at"]
    assert asyncio.run(ns["check_transaction_status"]("no-such-ref")) == {"status": "not_found"}
