"""The operations and sign-up command line: ``carm VERB ...`` (or ``python -m starter VERB ...``).

Verbs (``carm VERB --help`` for each one's options; one module each in :mod:`starter.cli.verbs`)::

    sign-up SELLER_ID EMAIL        start a seller's onboarding (keeps a running one)
    event SELLER_ID TYPE [k=v ...] send an onboarding event (nested values with --json)
    status SELLER_ID               where a seller stands and what must happen next
    sellers                        list onboarding sellers, filtered by stage, party, ...
    arrival SHIPMENT_ID SELLER_ID  record a returned parcel at the U.S. warehouse
    parcel SHIPMENT_ID             a parcel's state, due date and business days left
    parcels                        held parcels, by deadline
    decide SHIPMENT_ID ACTION      the seller's decision: dispose, or forward to a U.S. address
    extend SHIPMENT_ID DAYS        operations extend a hold by business days, with a reason
    checklist-link SELLER_ID       the seller's signed checklist page link
    import FILE.csv                bulk import of existing sellers (see starter.bulk_import)

Exit codes (:mod:`starter.cli.errors`): 0 done, 1 other errors, 2 invalid input (bad arguments or
values), 3 not allowed now, 4 no such seller or parcel. An error is one line on stderr that names
the problem.

Layout: :mod:`~starter.cli.parser` (argparse that never exits, argument types),
:mod:`~starter.cli.context` (what a verb runs with), :mod:`~starter.cli.render` (how sellers and
parcels are printed), :mod:`~starter.cli.errors`, :mod:`~starter.cli.run` (:func:`run` for tests,
in-process, with a client, settings and streams; :func:`main` for the ``carm`` program).
"""

from starter.cli.run import build_parser, main, run

__all__ = ["build_parser", "main", "run"]
