"""The loan ledger's pages. Included at the site root by ``postloan.web.urls``."""

from django.urls import path

from . import views

urlpatterns = [
    path("loans/", views.LoanListView.as_view(), name="loan-list"),
    path("loans/<str:loan_no>/", views.LoanDetailView.as_view(), name="loan-detail"),
    path("loans/<str:loan_no>/payoff/", views.PayoffView.as_view(), name="loan-payoff"),
    path("loans/<str:loan_no>/statement.pdf", views.StatementView.as_view(), name="loan-statement"),
    path("loans/<str:loan_no>/schedule/v<int:number>/", views.ScheduleVersionView.as_view(),
         name="loan-schedule-version"),
    path("loans/<str:loan_no>/disburse/", views.DisburseView.as_view(), name="loan-disburse"),
    path("loans/<str:loan_no>/repay/", views.RepaymentView.as_view(), name="loan-repay"),
    path("loans/<str:loan_no>/prepay/", views.PrepaymentView.as_view(), name="loan-prepay"),
    path("loans/<str:loan_no>/fee/", views.ChargeFeeView.as_view(), name="loan-charge-fee"),
    path("loans/<str:loan_no>/waive/", views.WaiveView.as_view(), name="loan-waive"),
    path("loans/<str:loan_no>/extend/", views.ExtendView.as_view(), name="loan-extend"),
    path("loans/<str:loan_no>/restructure/", views.RestructureView.as_view(), name="loan-restructure"),
    path("loans/<str:loan_no>/reprice/", views.RepriceView.as_view(), name="loan-reprice"),
    path("loans/<str:loan_no>/postings/<int:posting_id>/reverse/", views.RequestReversalView.as_view(),
         name="loan-request-reversal"),
    path("reversals/", views.ReversalListView.as_view(), name="reversal-list"),
    path("reversals/<int:pk>/approve/", views.ApproveReversalView.as_view(), name="reversal-approve"),
    path("reversals/<int:pk>/reject/", views.RejectReversalView.as_view(), name="reversal-reject"),
]
