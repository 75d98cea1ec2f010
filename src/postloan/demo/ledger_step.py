"""The demo bank's customers, products and three years of loan history.

The history is replayed through the real code: each day, loans are booked and
disbursed by the ledger's services, borrowers repay (or don't) by the ledger's
services according to their behaviour, and the real close of business closes
the day. Nothing writes a final state directly.

Borrower behaviour (deterministic from the seed): most pay on the due date;
some pay late and cure; some stop paying and roll into deep arrears (a few are
restructured and recover); a few prepay; some loans are extended before maturity.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from postloan.cob import runner
from postloan.customers import services as customer_services
from postloan.customers.identifiers import make_resident_id, make_uscc
from postloan.customers.models import Customer, Industry
from postloan.kernel.models import BusinessDate, CalendarCoverage
from postloan.ledger import services
from postloan.ledger.models import Installment, Loan, Product
from postloan.org.models import Branch, User

from .builder import DemoContext, step
from .models import DemoBuild
from .org_step import person_name

YEARS = 3
MAX_DELAY = 44  # days a late payer pays after the due date, at most

PRODUCTS = [
    # code, name, segment, method, frequency, terms (months), amount range (yuan), rates
    ("CWC", "流动资金贷款", "corporate", "interest_only", "monthly", [12, 24], (500_000, 20_000_000),
     ["0.0365", "0.0395", "0.0435"]),
    ("CFA", "固定资产贷款", "corporate", "equal_principal", "quarterly", [36, 60], (2_000_000, 50_000_000),
     ["0.0420", "0.0465"]),
    ("SME", "小微企业经营贷款", "corporate", "equal_installment", "monthly", [12, 24, 36], (200_000, 3_000_000),
     ["0.0450", "0.0520", "0.0600"]),
    ("MTG", "个人住房贷款", "retail", "equal_installment", "monthly", [120, 240, 360], (300_000, 3_000_000),
     ["0.0310", "0.0355", "0.0390"]),
    ("CON", "个人消费贷款", "retail", "equal_installment", "monthly", [12, 24, 36], (20_000, 300_000),
     ["0.0560", "0.0720", "0.0880"]),
    ("PBL", "个人经营贷款", "retail", "interest_only", "monthly", [12, 36], (100_000, 1_000_000),
     ["0.0450", "0.0550"]),
]

INDUSTRIES = ["01", "13", "14", "17", "18", "26", "27", "30", "33", "34", "36", "38", "39", "44", "47", "48", "51",
              "52", "54", "61", "65", "70", "72", "73", "82", "83"]
WORDS = "华宏鑫泰恒瑞丰盛兴隆达源嘉宝博宇天海金石安康永信利通汇中联新远景"
TRADE = {"01": "农业发展", "13": "食品加工", "14": "食品", "17": "纺织", "18": "服饰", "26": "化工", "27": "制药",
         "30": "建材", "33": "金属制品", "34": "机械", "36": "汽车零部件", "38": "电气", "39": "电子", "44": "电力",
         "47": "建筑工程", "48": "市政工程", "51": "商贸", "52": "超市", "54": "物流", "61": "酒店", "65": "软件",
         "70": "置业", "72": "商务咨询", "73": "科技研发", "82": "教育", "83": "医疗"}


def _customer_name(rng, region: str, industry: str) -> str:
    city = region.replace("市", "").replace("省", "")[-2:]
    return f"{city}{rng.choice(WORDS)}{rng.choice(WORDS)}{TRADE[industry]}有限公司"


@step("products_and_customers", order=20)
def build_customers(ctx: DemoContext) -> None:
    rng = ctx.rng
    for code, name, segment, method, frequency, terms, _amounts, _rates in PRODUCTS:
        services.create_product(actor=None, code=code, name=name, segment=segment, method=method, frequency=frequency,
                                day_count="ACT/360", interest_basis="period", holiday_rule="following",
                                min_rate=Decimal("0.02"), max_rate=Decimal("0.15"), min_term_months=min(terms),
                                max_term_months=max(terms), grace_days=3 if segment == "retail" else 0)
    industries = {i.code: i for i in Industry.objects.filter(code__in=INDUSTRIES)}
    branches = list(Branch.objects.exclude(level="head_office").order_by("path"))
    officers: dict[int, list[User]] = {}
    for user in User.objects.filter(groups__name="credit_officer").select_related("branch"):
        officers.setdefault(user.branch_id, []).append(user)
    for n in range(1, ctx.customers + 1):
        branch = rng.choice(branches)
        officer = rng.choice(officers.get(branch.pk) or officers[branch.parent_id])
        region_code = {"BJ": "110105", "SH": "310115", "GZ": "440106", "CD": "510107", "WH": "420103"}[
            branch.code[:2]]
        if rng.random() < 0.4:
            industry = industries[rng.choice(INDUSTRIES)]
            customer_services.create_customer(
                actor=None, customer_no=f"C{n:07d}", kind="corporate",
                name=_customer_name(rng, branch.region, industry.code), id_number=make_uscc(rng, region_code),
                branch=branch, officer=officer, industry=industry, region=branch.region,
                size=rng.choice(["medium", "small", "small", "micro"]), phone=f"0{rng.randrange(10, 99)}-"
                f"{rng.randrange(10_000_000, 99_999_999)}")
        else:
            customer_services.create_customer(
                actor=None, customer_no=f"C{n:07d}", kind="individual", name=person_name(rng),
                id_number=make_resident_id(rng, region_code), branch=branch, officer=officer, region=branch.region,
                phone=f"1{rng.choice('3589')}{rng.randrange(100_000_000, 999_999_999)}")


def _plan_loans(ctx: DemoContext, start: dt.date, end: dt.date) -> dict[dt.date, list[dict]]:
    """Which loan each customer takes, when, and how the borrower will behave."""
    rng = ctx.rng
    products = {p.code: p for p in Product.objects.all()}
    spec = {p[0]: p for p in PRODUCTS}
    plan: dict[dt.date, list[dict]] = {}
    span = (end - start).days
    n = 0
    for customer in Customer.objects.order_by("id").only("id", "kind"):
        for _ in range(1 if rng.random() < 0.8 else 2):
            if customer.kind == "corporate":
                code = rng.choices(["CWC", "CFA", "SME"], weights=[5, 2, 4])[0]
            else:
                code = rng.choices(["MTG", "CON", "PBL"], weights=[3, 5, 2])[0]
            _c, _n, _s, _m, _f, terms, (low, high), rates = spec[code]
            day = start + dt.timedelta(days=rng.randrange(0, span))
            n += 1
            behaviour = rng.choices(["good", "late", "bad", "prepay", "extend"], weights=[78, 11, 6, 3, 2])[0]
            plan.setdefault(day, []).append({
                "loan_no": f"LN{day:%Y%m}{n:06d}", "customer": customer.pk, "product": products[code],
                "principal": Decimal(rng.randrange(low // 10_000, high // 10_000 + 1) * 10_000),
                "rate": Decimal(rng.choice(rates)), "term": rng.choice(terms), "behaviour": behaviour,
                "delay": rng.randrange(3, MAX_DELAY + 1), "stop_after": rng.randrange(3, 18),
                "event_after": rng.randrange(4, 20)})
    return plan


@step("history", order=50, atomic=False)
def replay_history(ctx: DemoContext) -> None:
    """Day by day from three years ago to today: book, disburse, repay, close the day."""
    today = timezone.localdate()
    coverage = CalendarCoverage.objects.filter(code="CN").first()
    if coverage is not None and today > coverage.last + dt.timedelta(days=1):
        # the close of business refuses dates past the loaded business calendar: the history stops there
        ctx.out(f"    the business calendar ends on {coverage.last}: the history is replayed to that date")
        today = coverage.last + dt.timedelta(days=1)
    start = today - dt.timedelta(days=ctx.data.get("history_days") or (today - today.replace(year=today.year - YEARS)).days)
    build = DemoBuild.objects.order_by("-id").first()
    if not BusinessDate.objects.filter(pk=1, date__gte=start).exists() or not build.step.startswith("history"):
        BusinessDate.objects.update_or_create(pk=1, defaults={"date": start})
    plan = _plan_loans(ctx, start, today)
    behaviours: dict[str, dict] = {item["loan_no"]: item for items in plan.values() for item in items}
    day = BusinessDate.objects.get(pk=1).date
    total_days = (today - day).days
    done_days = 0
    while day < today:
        with transaction.atomic():
            _book(day, plan.get(day, []), ctx)
            _repay(day, behaviours, ctx)
        runner.run(to=day)
        done_days += 1
        if done_days % 30 == 0:
            ctx.out(f"    {day}  ({done_days}/{total_days} days, "
                    f"{Loan.objects.filter(status__in=['active', 'overdue']).count()} open loans)")
        day = BusinessDate.objects.get(pk=1).date


def _book(day: dt.date, items: list[dict], ctx: DemoContext) -> None:
    customers = Customer.objects.in_bulk([item["customer"] for item in items])
    for item in items:
        if Loan.objects.filter(loan_no=item["loan_no"]).exists():
            continue
        customer = customers[item["customer"]]
        loan = services.book_loan(actor=None, loan_no=item["loan_no"], customer=customer, product=item["product"],
                                  principal=item["principal"], annual_rate=item["rate"], term_months=item["term"],
                                  start_date=day, purpose="日常经营周转" if customer.kind == "corporate" else "个人用途",
                                  guarantee_type=random.Random(item["loan_no"]).choice(
                                      ["credit", "guarantee", "mortgage", "pledge"]))
        services.disburse(actor=None, loan=loan, value_date=day, reference=f"DISB-{loan.loan_no}")


def _pay(loan: Loan, day: dt.date, amount_fen: int, ref: str, batch: list | None = None) -> None:
    if amount_fen <= 0:
        return
    item = {"loan": loan, "amount": Decimal(amount_fen) / 100, "value_date": day, "reference": ref}
    if batch is None:
        services.post_repayments(actor=None, items=[item])
    else:
        batch.append(item)


def _repay(day: dt.date, behaviours: dict[str, dict], ctx: DemoContext) -> None:
    # On-time payers (and everyone before trouble starts) pay what falls due today.
    batch: list[dict] = []
    due_today = Installment.objects.filter(due_date=day, status__in=["future", "due", "partly_paid"]) \
        .select_related("loan__product")
    for inst in due_today:
        loan = inst.loan
        plan = behaviours.get(loan.loan_no)
        if plan is None or loan.status not in ("active", "overdue"):
            continue
        kind = plan["behaviour"]
        if kind == "late":
            continue
        if kind == "bad" and inst.number > plan["stop_after"]:
            continue
        if kind == "prepay" and inst.number == plan["event_after"]:
            services.prepay(actor=None, loan=loan, value_date=day, reference=f"PRE-{inst.pk}", mode="full")
            continue
        if kind == "extend" and inst.number == plan["event_after"] and loan.maturity_date > day:
            try:
                services.extend(actor=None, loan=loan, months={"monthly": 6, "quarterly": 6}.get(loan.frequency, 12),
                                value_date=day, guarantor_consent=True, reason="借款人经营周转需要，申请展期")
                loan.refresh_from_db()
            except Exception:  # the limit is reached for this term: just pay
                pass
            inst.refresh_from_db()
            if inst.status == "superseded":
                continue
        owed = inst.principal_fen + inst.interest_fen - inst.paid_principal_fen - inst.paid_interest_fen
        # the stored state is as of yesterday: what was due then (arrears, penalty to yesterday) + today's
        _pay(loan, day, owed + loan.total_due_fen, f"R-{inst.pk}-{day:%Y%m%d}", batch)
    # Late payers settle what they owe some days after each due date, penalty included: what the stored state
    # (as of yesterday, penalty to yesterday) says is due, and whatever falls due today.
    late = Installment.objects.filter(
        status="overdue", due_date__gte=day - dt.timedelta(days=MAX_DELAY), due_date__lte=day - dt.timedelta(days=3),
        loan__status__in=["active", "overdue"]).select_related("loan__product").order_by("loan_id", "due_date")
    paid: set[int] = set()
    for inst in late:
        loan = inst.loan
        plan = behaviours.get(loan.loan_no)
        if loan.pk in paid or not plan or plan["behaviour"] != "late" or inst.due_date + dt.timedelta(
                days=plan["delay"]) != day:
            continue
        paid.add(loan.pk)
        _pay(loan, day, loan.total_due_fen + _falling_due(loan, day), f"L-{inst.pk}-{day:%Y%m%d}", batch)
    if batch:
        services.post_repayments(actor=None, items=batch)
    # Bad borrowers in deep arrears: some are restructured and pay again, some pay a lump and recover.
    if day.day == 1:
        for loan in Loan.objects.filter(status="overdue", days_past_due__gte=120, restructured=False):
            plan = behaviours.get(loan.loan_no)
            if not plan or plan["behaviour"] != "bad":
                continue
            rng = random.Random(f"{loan.loan_no}:{day}")
            if rng.random() < 0.15:
                _pay(loan, day, loan.total_due_fen + _falling_due(loan, day), f"CURE-{day:%Y%m%d}")
                plan["behaviour"] = "good"
            elif rng.random() < 0.1 and loan.maturity_date > day:
                _pay(loan, day, loan.total_due_fen + _falling_due(loan, day), f"RS-PAY-{day:%Y%m%d}")
                loan.refresh_from_db()
                if loan.status in ("active", "overdue") and loan.maturity_date > day:
                    services.restructure(actor=None, loan=loan, value_date=day, term_months=_restructure_term(loan),
                                         reason="借款人经营困难，经审批调整还款计划", annual_rate=loan.annual_rate)
                    plan["behaviour"] = "good"


def _falling_due(loan: Loan, day: dt.date) -> int:
    """What falls due on ``day`` and is unpaid: not yet in the stored state, which is as of yesterday."""
    if loan.state_as_of is not None and loan.state_as_of >= day:
        return 0
    return sum(i.principal_fen + i.interest_fen - i.paid_principal_fen - i.paid_interest_fen
               for i in loan.installments.filter(due_date=day, status__in=["future", "partly_paid"]))


def _restructure_term(loan: Loan) -> int:
    months = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}[loan.frequency]
    return max(months, (24 // months) * months)
