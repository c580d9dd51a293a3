"""Build the demo corpus: feeds, article pages, whitepaper PDFs and the fundamentals CSV.

Everything under ``site/`` and ``fundamentals.csv`` is generated from hand-written material in
this folder (``pools/*.txt`` and ``whitepapers_src/*.txt``) and from the figure tables below.
The build is deterministic: a fixed seed, sorted inputs and no clocks, so running it twice gives
byte-identical output.

    python corpora/demo/build_demo.py            # rebuild everything
    python corpora/demo/build_demo.py --check    # rebuild in memory, fail if the output differs

How a document is made: each entity has a planned number of stories per quarter (more when
its story is hot). A story gets a date spread across the quarter, a stance (cheerleading,
doubting or plain news; the shares follow the group's hype and scepticism levels for the
quarter), a style that suits the stance (news, brief, analysis, column, social round-up), a
headline (event headlines bring their own lead sentence) and a tone mix for the rest of its
sentences. The AI trade grows louder through 2024 and turns sceptical in late 2025; DePIN tokens
have a burst in early 2024 and then deflate; DeFi coverage stays evidence-heavy with a moderate
wave in late 2024. Sentences are drawn from pools valid at the story's date, least used first
and at most five times each, so almost every hand-written sentence appears and none is repeated
much. Press releases and a few special pieces are written whole in ``pools/docs.txt``.
"""

from __future__ import annotations

import argparse
import calendar
import hashlib
import html
import random
import re
import sys
import textwrap
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

HERE = Path(__file__).resolve().parent
SITE_ROOT = "https://demo.analyzer.example/"
SEED = 20251231
FIRST_DAY = date(2023, 1, 1)
LAST_DAY = date(2025, 12, 31)
BUILD_STAMP = datetime(2025, 12, 31, 18, 0, tzinfo=timezone.utc)

QUARTERS = [f"{year}Q{q}" for year in (2023, 2024, 2025) for q in (1, 2, 3, 4)]

# --------------------------------------------------------------------------- entities and plan

GROUP_OF = {
    "nvidia": "ai",
    "tsmc": "ai",
    "microsoft": "ai",
    "constellation": "ai",
    "ai-datacenters": "ai",
    "render": "depin",
    "akash": "depin",
    "filecoin": "depin",
    "depin": "depin",
    "aave": "defi",
    "uniswap": "defi",
}
# Pools shared by every entity of a group, and exceptions: Constellation was a power story
# before it became an AI story, so it draws on the shared AI pool only from 2024.
GROUP_POOL = {"ai": "ai", "depin": "web3", "defi": "defi"}
SHARED_POOLS = {
    "constellation": (("power", date(2023, 1, 1)), ("ai", date(2024, 3, 1))),
    "ai-datacenters": (("ai", date(2023, 1, 1)), ("power", date(2023, 1, 1))),
}
DISPLAY_NAME = {
    "nvidia": "Nvidia",
    "tsmc": "TSMC",
    "microsoft": "Microsoft",
    "constellation": "Constellation Energy",
    "ai-datacenters": "AI data centers",
    "render": "Render",
    "akash": "Akash",
    "filecoin": "Filecoin",
    "depin": "DePIN",
    "aave": "Aave",
    "uniswap": "Uniswap",
}
# Headline templates written for a singular name ("{E} is having a moment") skip these.
PLURAL_NAMES = frozenset({"ai-datacenters"})
SINGULAR_VERB_AFTER_NAME = re.compile(
    r"\{E\} (?:is|has|rides|leads|says|fever|tokens)\b|\bIs \{E\}"
)
CATEGORY_LABEL = {
    "nvidia": "Nvidia",
    "tsmc": "TSMC",
    "microsoft": "Microsoft",
    "constellation": "Constellation Energy",
    "ai-datacenters": "AI data centers",
    "render": "Render Network",
    "akash": "Akash Network",
    "filecoin": "Filecoin",
    "depin": "DePIN",
    "aave": "Aave",
    "uniswap": "Uniswap",
}
TOPIC_CATEGORIES = {
    "nvidia": ["Semiconductors", "AI infrastructure"],
    "tsmc": ["Semiconductors", "Foundry"],
    "microsoft": ["Cloud", "AI infrastructure"],
    "constellation": ["Energy", "Nuclear power"],
    "ai-datacenters": ["Data centers", "AI infrastructure"],
    "render": ["Tokens", "GPU compute"],
    "akash": ["Tokens", "GPU compute"],
    "filecoin": ["Tokens", "Storage"],
    "depin": ["DePIN", "Tokens"],
    "aave": ["DeFi", "Lending"],
    "uniswap": ["DeFi", "Exchanges"],
}

# Stories per entity and quarter, 2023Q1 .. 2025Q4: volume is part of narrative heat.
STORIES_PER_QUARTER = {
    "nvidia": [4, 5, 6, 7, 8, 9, 9, 9, 9, 8, 7, 6],
    "microsoft": [2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 3, 3],
    "tsmc": [2, 2, 3, 3, 3, 3, 3, 4, 3, 3, 3, 3],
    "constellation": [2, 2, 2, 2, 2, 3, 4, 5, 5, 4, 3, 3],
    "ai-datacenters": [2, 2, 3, 4, 4, 5, 5, 6, 6, 5, 5, 5],
    "render": [2, 2, 2, 3, 6, 5, 3, 2, 2, 2, 2, 2],
    "akash": [2, 2, 2, 3, 5, 5, 3, 2, 2, 2, 2, 2],
    "filecoin": [2, 2, 2, 2, 5, 4, 2, 2, 2, 2, 2, 2],
    "depin": [1, 1, 2, 2, 6, 5, 3, 2, 2, 2, 2, 2],
    "aave": [3, 3, 3, 3, 3, 3, 4, 6, 5, 4, 3, 3],
    "uniswap": [3, 3, 3, 3, 3, 3, 3, 6, 5, 3, 3, 3],
}

# How exuberant (hype) and how doubtful (sceptical) coverage of a group is, per quarter.
HYPE_LEVEL = {
    "ai": [0.10, 0.28, 0.45, 0.52, 0.64, 0.78, 0.74, 0.78, 0.72, 0.66, 0.58, 0.28],
    "depin": [0.08, 0.10, 0.14, 0.38, 0.88, 0.78, 0.32, 0.25, 0.16, 0.12, 0.10, 0.08],
    "defi": [0.10, 0.10, 0.10, 0.14, 0.25, 0.20, 0.20, 0.50, 0.42, 0.20, 0.22, 0.14],
}
SCEPTIC_LEVEL = {
    "ai": [0.12, 0.08, 0.08, 0.10, 0.06, 0.05, 0.12, 0.08, 0.18, 0.16, 0.24, 0.55],
    "depin": [0.10, 0.08, 0.06, 0.05, 0.04, 0.10, 0.35, 0.40, 0.45, 0.45, 0.45, 0.45],
    "defi": [0.12, 0.10, 0.10, 0.08, 0.08, 0.08, 0.08, 0.10, 0.12, 0.10, 0.10, 0.12],
}

FEEDS = {
    "ai-infrastructure": {
        "format": "rss",
        "title": "AI Infrastructure Desk",
        "description": "Chips, clouds and the companies building the AI build-out.",
        "authors": [
            "Dana Whitcombe",
            "Ravi Anand",
            "Elise Marchetti",
            "Tomasz Wiecek",
            "Grace Whitfield",
        ],
    },
    "chips-and-power": {
        "format": "atom",
        "title": "Chips & Power",
        "description": "Foundries, fabs, grids and the electricity behind computing.",
        "authors": ["Hannah Okafor", "Lucas Brennan", "Mei Tanaka-Ross", "Sofia Lindgren"],
    },
    "web3-compute": {
        "format": "rss",
        "title": "Web3 Compute Weekly",
        "description": "Tokenized compute, storage and physical-infrastructure networks.",
        "authors": ["Jonah Reyes", "Priya Castellanos", "Felix Adebayo", "Noor Haddad"],
    },
    "defi-desk": {
        "format": "atom",
        "title": "The DeFi Desk",
        "description": "Lending, exchanges and on-chain markets, with the numbers.",
        "authors": ["Claire Dumont", "Marcus Feld", "Ines Valverde", "Oren Kaplan"],
    },
}
FEED_OF_ENTITY = {
    "nvidia": (("ai-infrastructure", 0.7), ("chips-and-power", 0.3)),
    "microsoft": (("ai-infrastructure", 1.0),),
    "tsmc": (("chips-and-power", 1.0),),
    "constellation": (("chips-and-power", 1.0),),
    "ai-datacenters": (("ai-infrastructure", 0.5), ("chips-and-power", 0.5)),
    "render": (("web3-compute", 1.0),),
    "akash": (("web3-compute", 1.0),),
    "filecoin": (("web3-compute", 1.0),),
    "depin": (("web3-compute", 1.0),),
    "aave": (("defi-desk", 1.0),),
    "uniswap": (("defi-desk", 1.0),),
}
# Where a syndicated copy of a story from each feed is republished.
SYNDICATION_TARGET = {
    "ai-infrastructure": "chips-and-power",
    "chips-and-power": "ai-infrastructure",
    "web3-compute": "defi-desk",
    "defi-desk": "web3-compute",
}
SYNDICATED_STORIES = 10
SUMMARY_ONLY_SHARE = 0.25
EXTRA_PAGE_SHARE = 0.08  # full-text items that also have an article page

# Theme pools hold sentences that do not name the theme; a story's lead must.
LEAD_MENTION = {
    "ai-datacenters": re.compile(r"AI data.?cent"),
    "depin": re.compile(r"DePIN|decentrali[sz]ed physical"),
}
# Which kind of piece carries each stance.
STYLE_BY_KIND = {
    "hype": {"column": 0.35, "social": 0.20, "analysis": 0.20, "news": 0.25},
    "sceptical": {"column": 0.45, "analysis": 0.30, "news": 0.25},
    "news": {"news": 0.50, "brief": 0.25, "analysis": 0.20, "column": 0.05},
}
MAX_USES = 5  # how often one pooled sentence may appear across the corpus

TONES = ("hype", "growth", "evidence", "neutral", "sceptical", "social")

# Style: sentence count range, the tone of the lead sentence, and base weights for the body.
STYLES: dict[str, dict[str, object]] = {
    "news": {
        "length": (5, 9),
        "mix": {"evidence": 3.0, "neutral": 1.2, "growth": 1.0, "hype": 0.7, "sceptical": 0.6},
    },
    "brief": {
        "length": (3, 4),
        "mix": {"evidence": 3.0, "neutral": 1.0, "growth": 0.6, "hype": 0.5, "sceptical": 0.4},
    },
    "analysis": {
        "length": (6, 10),
        "mix": {"growth": 2.0, "evidence": 2.0, "neutral": 0.8, "hype": 1.0, "sceptical": 1.0},
    },
    "column": {
        "length": (6, 11),
        "mix": {"hype": 2.2, "sceptical": 2.2, "growth": 1.2, "evidence": 0.7, "neutral": 0.5},
    },
    "social": {
        "length": (5, 8),
        "mix": {
            "social": 2.0,
            "hype": 1.4,
            "sceptical": 0.8,
            "evidence": 1.0,
            "neutral": 0.6,
            "growth": 0.6,
        },
    },
}

# --------------------------------------------------------------------------- fundamentals

# Company quarters: fiscal period end, revenue and capex in USD billions (approximate, from
# quarterly reports; Microsoft capex includes finance leases). 16 quarters ending 2022Q1-2025Q4.
COMPANY_QUARTERS: dict[str, list[tuple[str, float, float]]] = {
    "nvidia": [
        ("2022-01-30", 7.64, 0.28),
        ("2022-05-01", 8.29, 0.36),
        ("2022-07-31", 6.70, 0.52),
        ("2022-10-30", 5.93, 0.53),
        ("2023-01-29", 6.05, 0.42),
        ("2023-04-30", 7.19, 0.25),
        ("2023-07-30", 13.51, 0.29),
        ("2023-10-29", 18.12, 0.28),
        ("2024-01-28", 22.10, 0.25),
        ("2024-04-28", 26.04, 0.37),
        ("2024-07-28", 30.04, 0.98),
        ("2024-10-27", 35.08, 0.81),
        ("2025-01-26", 39.33, 1.08),
        ("2025-04-27", 44.06, 1.23),
        ("2025-07-27", 46.74, 1.89),
        ("2025-10-26", 57.01, 1.64),
    ],
    "tsmc": [
        ("2022-03-31", 17.57, 9.38),
        ("2022-06-30", 18.16, 9.17),
        ("2022-09-30", 20.23, 10.99),
        ("2022-12-31", 19.93, 10.82),
        ("2023-03-31", 16.72, 9.94),
        ("2023-06-30", 15.68, 8.17),
        ("2023-09-30", 17.28, 7.10),
        ("2023-12-31", 19.62, 5.24),
        ("2024-03-31", 18.87, 5.77),
        ("2024-06-30", 20.82, 6.36),
        ("2024-09-30", 23.50, 6.40),
        ("2024-12-31", 26.88, 11.24),
        ("2025-03-31", 25.53, 10.06),
        ("2025-06-30", 30.07, 9.63),
        ("2025-09-30", 33.10, 9.70),
        ("2025-12-31", 33.70, 11.50),
    ],
    "microsoft": [
        ("2022-03-31", 49.36, 6.3),
        ("2022-06-30", 51.87, 8.0),
        ("2022-09-30", 50.12, 6.6),
        ("2022-12-31", 52.75, 6.8),
        ("2023-03-31", 52.86, 7.8),
        ("2023-06-30", 56.19, 10.7),
        ("2023-09-30", 56.52, 11.2),
        ("2023-12-31", 62.02, 11.5),
        ("2024-03-31", 61.86, 14.0),
        ("2024-06-30", 64.73, 19.0),
        ("2024-09-30", 65.59, 20.0),
        ("2024-12-31", 69.63, 22.6),
        ("2025-03-31", 70.07, 21.4),
        ("2025-06-30", 76.44, 24.2),
        ("2025-09-30", 77.67, 34.9),
        ("2025-12-31", 81.27, 37.5),
    ],
    "constellation": [
        ("2022-03-31", 5.34, 0.45),
        ("2022-06-30", 5.45, 0.55),
        ("2022-09-30", 7.04, 0.48),
        ("2022-12-31", 6.61, 0.62),
        ("2023-03-31", 6.69, 0.72),
        ("2023-06-30", 5.45, 0.64),
        ("2023-09-30", 6.47, 0.58),
        ("2023-12-31", 6.31, 0.68),
        ("2024-03-31", 6.18, 0.70),
        ("2024-06-30", 5.48, 0.58),
        ("2024-09-30", 6.55, 0.65),
        ("2024-12-31", 5.38, 0.73),
        ("2025-03-31", 6.79, 0.86),
        ("2025-06-30", 6.10, 0.84),
        ("2025-09-30", 6.57, 0.95),
        ("2025-12-31", 6.41, 1.10),
    ],
}
# Days from period end to the 10-Q (or 10-K for the fiscal year's last quarter, the second value).
FILING_LAG_DAYS = {
    "nvidia": (30, 33),
    "tsmc": (35, 45),
    "microsoft": (27, 30),
    "constellation": (40, 50),
}
FISCAL_YEAR_END_MONTH = {"nvidia": 1, "tsmc": 12, "microsoft": 6, "constellation": 12}

# Monthly token and protocol figures, 2022-01 .. 2025-12 (48 values, month end; approximate).
# price: USD per token (CoinGecko); tvl: USD (DefiLlama); fees: USD paid in the month.
MONTHLY: dict[str, dict[str, list[float | None]]] = {
    "render": {
        "price": [
            4.4,
            3.3,
            3.1,
            2.3,
            0.75,
            0.52,
            0.70,
            0.62,
            0.50,
            0.52,
            0.40,
            0.40,
            0.72,
            1.55,
            1.70,
            1.85,
            2.05,
            1.90,
            1.80,
            1.55,
            1.55,
            2.10,
            3.30,
            4.40,
            4.20,
            7.60,
            10.40,
            8.10,
            10.20,
            7.30,
            5.80,
            5.00,
            5.40,
            4.90,
            7.60,
            7.00,
            6.60,
            3.80,
            3.30,
            4.20,
            4.30,
            3.00,
            3.60,
            3.70,
            3.00,
            2.40,
            1.65,
            1.45,
        ],
        "fees": [
            180e3,
            160e3,
            170e3,
            150e3,
            120e3,
            110e3,
            120e3,
            110e3,
            100e3,
            110e3,
            100e3,
            100e3,
            110e3,
            140e3,
            150e3,
            160e3,
            170e3,
            165e3,
            160e3,
            155e3,
            160e3,
            175e3,
            190e3,
            210e3,
            220e3,
            245e3,
            270e3,
            255e3,
            250e3,
            240e3,
            235e3,
            230e3,
            240e3,
            245e3,
            260e3,
            270e3,
            265e3,
            255e3,
            250e3,
            255e3,
            260e3,
            250e3,
            245e3,
            250e3,
            245e3,
            240e3,
            230e3,
            225e3,
        ],
    },
    "akash": {
        "price": [
            2.10,
            1.70,
            1.60,
            1.25,
            0.55,
            0.40,
            0.35,
            0.32,
            0.25,
            0.26,
            0.21,
            0.18,
            0.26,
            0.38,
            0.33,
            0.30,
            0.29,
            0.42,
            0.65,
            0.85,
            0.95,
            1.05,
            1.45,
            1.90,
            2.80,
            4.10,
            5.50,
            4.50,
            4.60,
            3.00,
            2.70,
            2.40,
            2.50,
            2.60,
            3.50,
            2.70,
            2.30,
            1.30,
            1.10,
            1.20,
            1.40,
            1.05,
            1.10,
            1.10,
            1.00,
            0.82,
            0.62,
            0.55,
        ],
        "fees": [
            2e3,
            2e3,
            3e3,
            3e3,
            3e3,
            3e3,
            4e3,
            4e3,
            4e3,
            5e3,
            5e3,
            5e3,
            6e3,
            7e3,
            8e3,
            9e3,
            10e3,
            12e3,
            15e3,
            22e3,
            30e3,
            38e3,
            45e3,
            52e3,
            56e3,
            60e3,
            64e3,
            66e3,
            68e3,
            70e3,
            74e3,
            80e3,
            86e3,
            92e3,
            98e3,
            104e3,
            110e3,
            114e3,
            118e3,
            122e3,
            126e3,
            130e3,
            134e3,
            138e3,
            141e3,
            144e3,
            147e3,
            150e3,
        ],
    },
    "filecoin": {
        "price": [
            21.5,
            19.5,
            21.0,
            16.5,
            9.0,
            5.5,
            7.0,
            6.3,
            5.4,
            5.3,
            3.4,
            2.9,
            5.0,
            7.2,
            5.6,
            4.9,
            4.3,
            3.8,
            4.1,
            3.5,
            3.3,
            3.5,
            4.0,
            6.0,
            5.2,
            8.2,
            8.5,
            6.0,
            5.8,
            4.2,
            4.3,
            3.4,
            3.8,
            3.6,
            5.0,
            4.7,
            4.5,
            3.2,
            2.7,
            2.6,
            2.7,
            2.3,
            2.6,
            2.4,
            2.2,
            1.5,
            1.6,
            1.3,
        ],
        "fees": [
            4.0e6,
            3.5e6,
            3.6e6,
            2.8e6,
            1.6e6,
            0.9e6,
            1.0e6,
            0.9e6,
            0.8e6,
            0.8e6,
            0.6e6,
            0.5e6,
            0.7e6,
            0.9e6,
            0.8e6,
            0.7e6,
            0.7e6,
            0.6e6,
            0.6e6,
            0.55e6,
            0.5e6,
            0.55e6,
            0.6e6,
            0.7e6,
            0.65e6,
            0.75e6,
            0.8e6,
            0.7e6,
            0.65e6,
            0.6e6,
            0.55e6,
            0.5e6,
            0.5e6,
            0.5e6,
            0.55e6,
            0.55e6,
            0.5e6,
            0.45e6,
            0.4e6,
            0.4e6,
            0.4e6,
            0.38e6,
            0.37e6,
            0.36e6,
            0.35e6,
            0.33e6,
            0.32e6,
            0.3e6,
        ],
        # The Filecoin Virtual Machine (smart contracts, hence DeFi TVL) went live in March 2023.
        "tvl": [
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            4e6,
            25e6,
            40e6,
            55e6,
            70e6,
            85e6,
            110e6,
            150e6,
            190e6,
            230e6,
            210e6,
            300e6,
            330e6,
            250e6,
            240e6,
            190e6,
            190e6,
            150e6,
            170e6,
            160e6,
            200e6,
            190e6,
            180e6,
            130e6,
            110e6,
            105e6,
            110e6,
            95e6,
            100e6,
            95e6,
            90e6,
            70e6,
            65e6,
            55e6,
        ],
    },
    "aave": {
        "price": [
            170,
            140,
            220,
            145,
            95,
            55,
            100,
            85,
            75,
            85,
            60,
            52,
            82,
            80,
            75,
            68,
            62,
            60,
            67,
            55,
            57,
            85,
            100,
            108,
            92,
            118,
            125,
            88,
            95,
            88,
            105,
            130,
            155,
            140,
            190,
            320,
            340,
            210,
            165,
            155,
            220,
            260,
            300,
            320,
            280,
            230,
            175,
            185,
        ],
        "tvl": [
            14.0e9,
            12.5e9,
            12.8e9,
            10.9e9,
            6.8e9,
            5.2e9,
            6.4e9,
            6.0e9,
            5.5e9,
            5.6e9,
            4.3e9,
            4.0e9,
            5.0e9,
            5.3e9,
            5.7e9,
            5.9e9,
            5.8e9,
            5.9e9,
            5.6e9,
            5.2e9,
            5.0e9,
            5.3e9,
            6.2e9,
            7.5e9,
            8.3e9,
            10.5e9,
            11.8e9,
            10.5e9,
            11.5e9,
            11.6e9,
            11.0e9,
            10.3e9,
            11.3e9,
            12.0e9,
            17.0e9,
            21.5e9,
            20.8e9,
            18.5e9,
            16.9e9,
            17.3e9,
            22.5e9,
            25.5e9,
            31.5e9,
            36.0e9,
            37.5e9,
            35.0e9,
            33.5e9,
            32.0e9,
        ],
        "fees": [
            28e6,
            24e6,
            25e6,
            22e6,
            20e6,
            15e6,
            13e6,
            13e6,
            12e6,
            12e6,
            14e6,
            11e6,
            12e6,
            13e6,
            15e6,
            16e6,
            15e6,
            14e6,
            15e6,
            15e6,
            14e6,
            15e6,
            18e6,
            22e6,
            25e6,
            32e6,
            48e6,
            40e6,
            36e6,
            33e6,
            35e6,
            38e6,
            36e6,
            40e6,
            62e6,
            85e6,
            80e6,
            65e6,
            60e6,
            58e6,
            66e6,
            70e6,
            82e6,
            92e6,
            95e6,
            90e6,
            80e6,
            78e6,
        ],
    },
    "uniswap": {
        "price": [
            10.6,
            9.7,
            11.6,
            8.2,
            5.3,
            4.9,
            8.8,
            6.9,
            6.6,
            6.9,
            5.6,
            5.2,
            6.6,
            6.4,
            5.9,
            5.1,
            5.0,
            4.7,
            6.0,
            4.6,
            4.3,
            4.3,
            6.0,
            7.2,
            6.3,
            12.3,
            11.4,
            7.5,
            10.0,
            9.6,
            7.1,
            6.4,
            7.0,
            7.3,
            13.3,
            13.2,
            13.2,
            8.3,
            6.2,
            5.0,
            6.1,
            7.4,
            10.1,
            9.8,
            7.8,
            6.2,
            6.6,
            5.7,
        ],
        "tvl": [
            7.8e9,
            7.2e9,
            7.6e9,
            7.0e9,
            5.6e9,
            4.3e9,
            5.6e9,
            5.2e9,
            4.6e9,
            4.9e9,
            3.8e9,
            3.5e9,
            4.2e9,
            4.1e9,
            4.0e9,
            4.1e9,
            3.9e9,
            3.8e9,
            3.7e9,
            3.4e9,
            3.3e9,
            3.4e9,
            3.9e9,
            4.5e9,
            4.4e9,
            5.6e9,
            6.0e9,
            5.0e9,
            5.4e9,
            5.0e9,
            4.8e9,
            4.2e9,
            4.6e9,
            4.8e9,
            5.9e9,
            6.1e9,
            5.8e9,
            4.8e9,
            4.3e9,
            4.3e9,
            4.8e9,
            4.7e9,
            5.2e9,
            5.3e9,
            5.0e9,
            4.5e9,
            4.2e9,
            4.0e9,
        ],
        "fees": [
            120e6,
            95e6,
            90e6,
            80e6,
            110e6,
            95e6,
            60e6,
            65e6,
            50e6,
            55e6,
            75e6,
            40e6,
            45e6,
            55e6,
            90e6,
            60e6,
            65e6,
            45e6,
            40e6,
            38e6,
            35e6,
            45e6,
            60e6,
            80e6,
            70e6,
            90e6,
            130e6,
            110e6,
            90e6,
            80e6,
            85e6,
            95e6,
            75e6,
            85e6,
            150e6,
            170e6,
            150e6,
            120e6,
            95e6,
            100e6,
            110e6,
            90e6,
            120e6,
            130e6,
            105e6,
            110e6,
            90e6,
            85e6,
        ],
    },
}
MONTHLY_SOURCE = {
    "price": "demo-approx:coingecko",
    "tvl": "demo-approx:defillama",
    "fees": "demo-approx:defillama",
}
# Electricity sold to Virginia's commercial sector (where data centers are counted), in the
# shape of the EIA retail-sales series: approximate annual totals in million kWh, spread over
# the months with a summer peak, and an approximate average price in cents per kWh. Written for
# the demo from the public trend (data-center load growth in Dominion's territory); not EIA data.
ELECTRICITY_ENTITY = "ai-datacenters"
ELECTRICITY_SALES_ANNUAL = {2022: 57_000, 2023: 61_000, 2024: 66_500, 2025: 72_000}
ELECTRICITY_SEASON = (
    0.082,
    0.075,
    0.078,
    0.075,
    0.080,
    0.088,
    0.097,
    0.097,
    0.086,
    0.080,
    0.078,
    0.084,
)
ELECTRICITY_PRICE = {2022: 8.3, 2023: 8.9, 2024: 9.2, 2025: 9.7}
ELECTRICITY_RELEASE_LAG_DAYS = 60  # as the EIA connector estimates for monthly data
TOKEN_LABELS = {
    "render": ("Render Network", "RNDR"),
    "akash": ("Akash Network", "AKT"),
    "filecoin": ("Filecoin", "FIL"),
    "aave": ("Aave", "AAVE"),
    "uniswap": ("Uniswap", "UNI"),
}
# The RNDR ticker became RENDER when the token moved to Solana; exchanges switched in mid-2024.
RENDER_TICKER_SWITCH = date(2024, 7, 1)


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def fundamentals_rows() -> list[list[str]]:
    rows: list[list[str]] = []
    for entity, quarters in COMPANY_QUARTERS.items():
        short_lag, annual_lag = FILING_LAG_DAYS[entity]
        for period_end, revenue_bn, capex_bn in quarters:
            end = date.fromisoformat(period_end)
            # A fiscal year ends in the month after the period end in NVIDIA's 52/53-week calendar.
            year_end = end.month == FISCAL_YEAR_END_MONTH[entity] or (
                entity == "nvidia" and end.month == 1
            )
            filed = end + timedelta(days=annual_lag if year_end else short_lag)
            for metric, value_bn in (("revenue", revenue_bn), ("capex", capex_bn)):
                rows.append(
                    [
                        entity,
                        metric,
                        period_end,
                        f"{round(value_bn * 1e9):d}",
                        "USD",
                        "demo-approx:company-reports",
                        filed.isoformat(),
                    ]
                )
    for entity, metrics in MONTHLY.items():
        for metric in ("tvl", "fees", "price"):
            values = metrics.get(metric)
            if values is None:
                continue
            assert len(values) == 48, (entity, metric)
            for index, value in enumerate(values):
                if value is None:
                    continue
                year, month = 2022 + index // 12, index % 12 + 1
                text = f"{value:.2f}" if metric == "price" else f"{round(value):d}"
                rows.append(
                    [
                        entity,
                        metric,
                        month_end(year, month).isoformat(),
                        text,
                        "USD",
                        MONTHLY_SOURCE[metric],
                        "",
                    ]
                )
    season_total = sum(ELECTRICITY_SEASON)
    for year, total in ELECTRICITY_SALES_ANNUAL.items():
        for month, share in enumerate(ELECTRICITY_SEASON, start=1):
            end = month_end(year, month)
            filed = (end + timedelta(days=ELECTRICITY_RELEASE_LAG_DAYS)).isoformat()
            sales = round(total * share / season_total)
            price = ELECTRICITY_PRICE[year] + (0.6 if month in (6, 7, 8, 9) else 0.0)
            rows.append(
                [
                    ELECTRICITY_ENTITY,
                    "electricity_sales_va_com",
                    end.isoformat(),
                    f"{sales:d}",
                    "million kWh",
                    "demo-approx:eia",
                    filed,
                ]
            )
            rows.append(
                [
                    ELECTRICITY_ENTITY,
                    "electricity_price_va_com",
                    end.isoformat(),
                    f"{price:.2f}",
                    "cents/kWh",
                    "demo-approx:eia",
                    filed,
                ]
            )
    return rows


def fundamentals_csv() -> str:
    lines = ["entity,metric,date,value,unit,source,filed_at"]
    lines += [",".join(row) for row in fundamentals_rows()]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- pools


@dataclass
class Block:
    key: str
    tone: str
    start: date
    end: date
    sentences: list[str]


@dataclass
class HandDoc:
    entity: str
    style: str
    published: datetime
    title: str
    sentences: list[str]
    feed: str | None = None
    link: str | None = None


def _parse_bound(text: str, *, is_end: bool) -> date:
    match = re.fullmatch(r"(\d{4})Q([1-4])", text)
    if match:
        year, quarter = int(match[1]), int(match[2])
        if is_end:
            return month_end(year, quarter * 3)
        return date(year, quarter * 3 - 2, 1)
    return date.fromisoformat(text)


TitleEntry = tuple[str, str, date, date, str, "str | None"]


def parse_pool_file(path: Path) -> tuple[list[Block], list[HandDoc], list[TitleEntry]]:
    """``@ key tone [from [to]]`` starts a sentence block; ``=== doc ...`` a hand-written document.

    Title lines live in blocks whose tone is ``title-<kind>``; templates for figure sentences in
    blocks whose key is ``template``. Blank lines and ``#`` comments are ignored inside blocks;
    in a document, a blank line ends a paragraph.
    """
    blocks: list[Block] = []
    docs: list[HandDoc] = []
    titles: list[TitleEntry] = []
    current: Block | None = None
    doc: HandDoc | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if line.startswith("#"):
            continue
        if line.startswith("@ "):
            parts = line[2:].split()
            if len(parts) < 2 or len(parts) > 4:
                raise ValueError(f"{path.name}:{number}: bad block header {line!r}")
            start = _parse_bound(parts[2], is_end=False) if len(parts) > 2 else FIRST_DAY
            end = _parse_bound(parts[3], is_end=True) if len(parts) > 3 else LAST_DAY
            current, doc = Block(parts[0], parts[1], start, end, []), None
            blocks.append(current)
            continue
        if line.startswith("=== doc "):
            # === doc <entity> <style> <YYYY-MM-DDTHH:MM> [feed] | title
            head, _, title = line[len("=== doc ") :].partition("|")
            parts = head.split()
            published = datetime.fromisoformat(parts[2]).replace(tzinfo=timezone.utc)
            doc = HandDoc(
                parts[0],
                parts[1],
                published,
                title.strip(),
                [],
                feed=parts[3] if len(parts) > 3 else None,
            )
            docs.append(doc)
            current = None
            continue
        if not line:
            if doc is not None and doc.sentences and doc.sentences[-1] != "":
                doc.sentences.append("")
            continue
        if doc is not None:
            doc.sentences.append(line)
        elif current is not None:
            current.sentences.append(line)
        else:
            raise ValueError(f"{path.name}:{number}: text outside a block")
    for block in blocks:
        if block.tone.startswith("title"):
            for line in block.sentences:
                title, _, lead = line.partition(" => ")
                titles.append(
                    (
                        block.key,
                        block.tone.removeprefix("title-"),
                        block.start,
                        block.end,
                        title.strip(),
                        lead.strip() or None,
                    )
                )
    for doc in docs:
        while doc.sentences and doc.sentences[-1] == "":
            doc.sentences.pop()
    blocks = [b for b in blocks if not b.tone.startswith("title")]
    return blocks, docs, titles


@dataclass
class Pools:
    blocks: dict[tuple[str, str], list[Block]] = field(default_factory=lambda: defaultdict(list))
    templates: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    titles: list[TitleEntry] = field(default_factory=list)
    docs: list[HandDoc] = field(default_factory=list)

    def candidates(self, key: str, tone: str, day: date) -> list[str]:
        found: list[str] = []
        for block in self.blocks.get((key, tone), []):
            if block.start <= day <= block.end:
                found.extend(block.sentences)
        return found

    def distinct_sentences(self) -> int:
        pooled = {s for blocks in self.blocks.values() for b in blocks for s in b.sentences}
        leads = {entry[5] for entry in self.titles if entry[5]}
        return len(pooled | leads)


def load_pools() -> Pools:
    pools = Pools()
    for path in sorted((HERE / "pools").glob("*.txt")):
        blocks, docs, titles = parse_pool_file(path)
        for block in blocks:
            if block.key == "template":
                pools.templates[block.tone].extend(block.sentences)
            else:
                if block.tone not in TONES:
                    raise ValueError(f"{path.name}: unknown tone {block.tone!r} for {block.key}")
                pools.blocks[(block.key, block.tone)].append(block)
        pools.docs.extend(docs)
        pools.titles.extend(titles)
    return pools


# --------------------------------------------------------------------------- figure sentences


def format_usd(value: float) -> str:
    if value >= 1e9:
        return f"${value / 1e9:.1f} billion"
    if value >= 1e7:
        return f"${value / 1e6:.0f} million"
    if value >= 1e6:
        return f"${value / 1e6:.1f} million"
    if value >= 1e5:
        return f"${round(value, -3):,.0f}"
    return f"${round(value, -2):,.0f}"


def format_price(value: float) -> str:
    return f"${value:,.0f}" if value >= 100 else f"${value:.2f}"


def token_ticker(entity: str, day: date) -> str:
    name, ticker = TOKEN_LABELS[entity]
    if entity == "render" and day >= RENDER_TICKER_SWITCH:
        return "RENDER"
    return ticker


def figure_sentences(
    pools: Pools, entity: str, day: date, rng: random.Random
) -> list[tuple[str, str]]:
    """(metric, sentence) pairs stating last month's price, fees and TVL, from the figure tables."""
    if entity not in MONTHLY:
        return []
    previous = day.replace(day=1) - timedelta(days=1)  # the last complete month
    index = (previous.year - 2022) * 12 + previous.month - 1
    if index < 1 or index >= 48:
        return []
    name, _ = TOKEN_LABELS[entity]
    ticker = token_ticker(entity, day)
    out: list[tuple[str, str]] = []
    for metric, values in sorted(MONTHLY[entity].items()):
        now, before = values[index], values[index - 1]
        year_ago = values[index - 12] if index >= 12 else None
        if now is None or before is None:
            continue
        change = (now / before - 1.0) * 100.0
        fill = {
            "name": name,
            "ticker": ticker,
            "month": calendar.month_name[previous.month],
            "year": str(previous.year),
            "prev_month": calendar.month_name[(previous.month - 2) % 12 + 1],
            "value": format_price(now) if metric == "price" else format_usd(now),
            "prev_value": format_price(before) if metric == "price" else format_usd(before),
            "pct": f"{abs(change):.0f}",
            "direction": "up" if change >= 0 else "down",
            "rose_fell": "rose" if change >= 0 else "fell",
        }
        key = metric + "-short"
        if year_ago:
            yoy = (now / year_ago - 1.0) * 100.0
            fill["yoy_pct"] = f"{abs(yoy):.0f}"
            fill["yoy_direction"] = "higher" if yoy >= 0 else "lower"
            if abs(yoy) >= 1.0:
                key = metric
        if abs(change) < 1.0:
            key = metric + "-flat"
        templates = pools.templates.get(key) or pools.templates.get(metric) or []
        if not templates:
            continue
        template = templates[rng.randrange(len(templates))]
        try:
            out.append((metric, template.format(**fill)))
        except KeyError:
            out.append((metric, pools.templates[metric + "-short"][0].format(**fill)))
    return out


# --------------------------------------------------------------------------- documents


@dataclass
class Doc:
    guid: str
    feed: str
    entity: str
    published: datetime
    title: str
    author: str
    style: str
    paragraphs: list[list[str]]
    tones: list[str]
    slug: str = ""
    summary_only: bool = False
    has_page: bool = False
    categories: list[str] = field(default_factory=list)
    syndicated_from: str | None = None
    enclosure: tuple[str, int] | None = None
    link: str | None = None

    @property
    def sentences(self) -> list[str]:
        return [s for paragraph in self.paragraphs for s in paragraph]

    @property
    def url(self) -> str:
        return self.link or f"{SITE_ROOT}articles/{self.slug}.html"


def quarter_bounds(quarter: str) -> tuple[date, date]:
    year, q = int(quarter[:4]), int(quarter[-1])
    return date(year, q * 3 - 2, 1), month_end(year, q * 3)


def quarter_of(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def spread_dates(quarter: str, count: int, rng: random.Random) -> list[date]:
    """Dates stratified across the quarter so every month gets stories."""
    start, end = quarter_bounds(quarter)
    span = (end - start).days + 1
    days = []
    for index in range(count):
        offset = int((index + rng.uniform(0.1, 0.9)) / count * span)
        days.append(start + timedelta(days=min(offset, span - 1)))
    return days


class SentencePicker:
    """Least-used-first choice, so every pooled sentence appears and repetition stays low.

    A sentence is used at most ``max_uses`` times; when a pool is used up for a period, the
    slot goes to another tone instead of repeating the same few sentences.
    """

    def __init__(self, rng: random.Random, max_uses: int = MAX_USES) -> None:
        self.rng = rng
        self.max_uses = max_uses
        self.uses: Counter[str] = Counter()

    def pick(
        self, candidates: Sequence[str], exclude: Iterable[str], *, cap: bool = True
    ) -> str | None:
        taken = set(exclude)
        options = [
            c for c in candidates if c not in taken and (not cap or self.uses[c] < self.max_uses)
        ]
        if not options:
            return None
        fewest = min(self.uses[c] for c in options)
        best = [c for c in options if self.uses[c] == fewest]
        choice = best[self.rng.randrange(len(best))]
        self.uses[choice] += 1
        return choice


def choose_weighted(rng: random.Random, weights: dict[str, float]) -> str:
    keys = sorted(weights)
    total = sum(weights[k] for k in keys)
    point = rng.uniform(0, total)
    for key in keys:
        point -= weights[key]
        if point <= 0:
            return key
    return keys[-1]


def tone_weights(style: str, hype: float, sceptic: float) -> dict[str, float]:
    base = dict(STYLES[style]["mix"])  # type: ignore[arg-type]
    factors = {
        "hype": 0.15 + 2.6 * hype,
        "sceptical": 0.10 + 3.2 * sceptic,
        "growth": 0.5 + 1.1 * hype,
        "evidence": 1.25 - 0.6 * hype,
        "neutral": 1.0,
        "social": 0.2 + 2.0 * hype,
    }
    return {tone: weight * factors[tone] for tone, weight in base.items()}


class Builder:
    def __init__(self, pools: Pools) -> None:
        self.pools = pools
        self.rng = random.Random(SEED)
        self.picker = SentencePicker(random.Random(SEED + 1))
        self.used_titles: set[str] = set()
        self.used_slugs: set[str] = set()
        self.figure_metric: dict[str, str] = {}
        self.title_fallbacks = 0

    # ---- sentences
    def figures(self, entity: str, day: date, taken: list[str]) -> list[str]:
        """Figure sentences for metrics the document has not stated yet (one sentence per metric)."""
        stated = {self.figure_metric[s] for s in taken if s in self.figure_metric}
        out = []
        for metric, sentence in figure_sentences(self.pools, entity, day, self.rng):
            if metric not in stated:
                self.figure_metric[sentence] = metric
                out.append(sentence)
        return out

    def shared_pools(self, entity: str, day: date) -> list[str]:
        return [
            key
            for key, start in SHARED_POOLS.get(entity, ((GROUP_POOL[GROUP_OF[entity]], FIRST_DAY),))
            if day >= start
        ]

    def draw(self, entity: str, tone: str, day: date, exclude: list[str]) -> str | None:
        own = self.pools.candidates(entity, tone, day)
        if tone == "evidence":
            own = own + self.figures(entity, day, exclude)
        shared = [
            s
            for key in self.shared_pools(entity, day)
            for s in self.pools.candidates(key, tone, day)
        ]
        order = [own, shared] if self.rng.random() < 0.68 else [shared, own]
        for candidates in order:
            choice = self.picker.pick(candidates, exclude)
            if choice is not None:
                return choice
        return None

    def compose(
        self,
        entity: str,
        day: date,
        style: str,
        kind: str,
        lead: str | None,
        hype: float,
        sceptic: float,
    ) -> tuple[list[str], list[str]]:
        low, high = STYLES[style]["length"]  # type: ignore[misc]
        length = self.rng.randint(low, high)
        weights = tone_weights(style, hype, sceptic)
        # One voice per story: a cheerleading piece rarely stops to doubt, a sceptical one rarely gushes.
        if kind == "hype":
            weights["hype"] = weights.get("hype", 0.0) * 1.5
            weights["sceptical"] = weights.get("sceptical", 0.0) * 0.15
        elif kind == "sceptical":
            weights["sceptical"] = weights.get("sceptical", 0.0) * 1.5 + 0.5
            weights["hype"] = weights.get("hype", 0.0) * 0.15
        else:
            weights["hype"] = weights.get("hype", 0.0) * 0.6
            weights["sceptical"] = weights.get("sceptical", 0.0) * 0.8
        sentences: list[str] = []
        tones: list[str] = []
        lead_tone = {"hype": "hype", "sceptical": "sceptical"}.get(kind, "evidence")
        if kind == "news" and style == "analysis" and self.rng.random() < 0.5:
            lead_tone = "growth"
        if lead is None:
            # The lead always names the entity, so documents are found by alias matching.
            candidates = self.pools.candidates(entity, lead_tone, day)
            if entity in LEAD_MENTION:
                candidates = [c for c in candidates if LEAD_MENTION[entity].search(c)]
            lead = self.picker.pick(
                candidates + (self.figures(entity, day, []) if lead_tone == "evidence" else []), []
            )
        for fallback in ("evidence", "neutral", "growth", lead_tone):
            if lead is not None:
                break
            # Leads must name the entity, so a used-up pool is reused before a lead goes missing.
            candidates = self.pools.candidates(entity, fallback, day)
            naming = [
                c
                for c in candidates
                if entity not in LEAD_MENTION or LEAD_MENTION[entity].search(c)
            ]
            lead = self.picker.pick(naming, []) or self.picker.pick(naming, [], cap=False)
            lead_tone = fallback
        if lead is None:
            raise ValueError(f"no lead sentence for {entity} on {day}")
        sentences.append(lead)
        tones.append(lead_tone)
        attempts = 0
        while len(sentences) < length and attempts < length * 6:
            attempts += 1
            tone = choose_weighted(self.rng, weights)
            sentence = self.draw(entity, tone, day, sentences)
            if sentence is None:
                continue
            sentences.append(sentence)
            tones.append(tone)
        return sentences, tones

    # ---- titles
    def story_kinds(self, count: int, hype: float, sceptic: float) -> list[str]:
        """The stance of each of an entity's stories in a quarter: cheerleading, doubting or news.

        Shares follow the quarter's hype and scepticism levels; stochastic rounding keeps small
        quarters honest without making every quarter identical.
        """
        hype_count = min(count, int(count * min(0.8, 0.9 * hype) + self.rng.random()))
        sceptic_count = min(
            count - hype_count, int(count * min(0.6, 0.9 * sceptic) + self.rng.random())
        )
        kinds = ["hype"] * hype_count + ["sceptical"] * sceptic_count
        kinds += ["news"] * (count - len(kinds))
        self.rng.shuffle(kinds)
        return kinds

    def title(self, entity: str, day: date, kind: str) -> tuple[str, str | None]:
        """A fresh headline of that kind; event headlines come with the lead sentence they need."""
        name = DISPLAY_NAME[entity]
        shared = set(self.shared_pools(entity, day))
        events: list[tuple[str, str]] = []
        generic: list[str] = []
        for key, title_kind, start, end, text, lead in self.pools.titles:
            if title_kind != kind or not (start <= day <= end):
                continue
            if entity in PLURAL_NAMES and SINGULAR_VERB_AFTER_NAME.search(text):
                continue
            if key == entity and lead:
                events.append((text, lead))
            elif key == entity or key == "any" or key in shared:
                generic.append(text.replace("{E}", name))
        fresh_events = sorted(e for e in events if e[0] not in self.used_titles)
        fresh_generic = sorted(t for t in generic if t not in self.used_titles)
        lead: str | None = None
        if fresh_events and (self.rng.random() < 0.75 or not fresh_generic):
            chosen, lead = fresh_events[self.rng.randrange(len(fresh_events))]
        elif fresh_generic:
            chosen = fresh_generic[self.rng.randrange(len(fresh_generic))]
        else:
            self.title_fallbacks += 1
            base = sorted(generic) or [f"{name}: the latest"]
            chosen = base[self.rng.randrange(len(base))]
            for suffix in (
                f" ({calendar.month_abbr[day.month]} {day.year})",
                f": {calendar.month_name[day.month]} update",
            ):
                if chosen + suffix not in self.used_titles:
                    chosen += suffix
                    break
        self.used_titles.add(chosen)
        return chosen, lead

    def slug_for(self, title: str, day: date) -> str:
        words = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-").split("-")
        slug_words: list[str] = []
        for word in words:
            if len("-".join(slug_words + [word])) > 60:
                break
            slug_words.append(word)
        slug = f"{day.year}-{day.month:02d}-" + "-".join(slug_words)
        candidate, counter = slug, 2
        while candidate in self.used_slugs:
            candidate = f"{slug}-{counter}"
            counter += 1
        self.used_slugs.add(candidate)
        return candidate

    # ---- assembly
    def build(self) -> list[Doc]:
        docs: list[Doc] = []
        hand_by_entity_quarter: Counter[tuple[str, str]] = Counter()
        for hand in self.pools.docs:
            hand_by_entity_quarter[(hand.entity, quarter_of(hand.published.date()))] += 1
        plan: list[tuple[date, str, int, str]] = []
        for entity in sorted(STORIES_PER_QUARTER):
            group = GROUP_OF[entity]
            for index, quarter in enumerate(QUARTERS):
                planned = max(
                    STORIES_PER_QUARTER[entity][index] - hand_by_entity_quarter[(entity, quarter)],
                    0,
                )
                kinds = self.story_kinds(
                    planned, HYPE_LEVEL[group][index], SCEPTIC_LEVEL[group][index]
                )
                days = spread_dates(quarter, planned, self.rng)
                plan += [(day, entity, index, kind) for day, kind in zip(days, kinds)]
        # Stories are written in date order, so no entity gets first pick of the shared pools.
        for day, entity, index, kind in sorted(plan):
            group = GROUP_OF[entity]
            hype, sceptic = HYPE_LEVEL[group][index], SCEPTIC_LEVEL[group][index]
            style = choose_weighted(self.rng, STYLE_BY_KIND[kind])
            title, lead = self.title(entity, day, kind)
            sentences, tones = self.compose(entity, day, style, kind, lead, hype, sceptic)
            docs.append(self.make_doc(entity, day, style, title, sentences, tones))
        for hand in self.pools.docs:
            docs.append(self.make_hand_doc(hand))
        docs.sort(key=lambda d: (d.published, d.entity, d.title))
        self.assign_guids(docs)
        docs += self.syndicate(docs)
        docs.sort(key=lambda d: (d.published, d.entity, d.title))
        self.assign_pages(docs)
        return docs

    def make_doc(
        self, entity: str, day: date, style: str, title: str, sentences: list[str], tones: list[str]
    ) -> Doc:
        feeds = FEED_OF_ENTITY[entity]
        feed = choose_weighted(self.rng, {name: weight for name, weight in feeds})
        minute = self.rng.randrange(6 * 60, 21 * 60)
        published = datetime(
            day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=timezone.utc
        )
        author = FEEDS[feed]["authors"][self.rng.randrange(len(FEEDS[feed]["authors"]))]  # type: ignore[index]
        paragraphs = self.paragraphs(sentences)
        style_label = {
            "news": "News",
            "brief": "Briefing",
            "analysis": "Analysis",
            "column": "Opinion",
            "social": "Markets chatter",
        }[style]
        return Doc(
            guid="",
            feed=feed,
            entity=entity,
            published=published,
            title=title,
            author=str(author),
            style=style,
            paragraphs=paragraphs,
            tones=tones,
            slug=self.slug_for(title, day),
            categories=[CATEGORY_LABEL[entity], *TOPIC_CATEGORIES[entity], style_label],
        )

    def make_hand_doc(self, hand: HandDoc) -> Doc:
        feeds = FEED_OF_ENTITY[hand.entity]
        feed = hand.feed or feeds[0][0]
        paragraphs: list[list[str]] = [[]]
        for line in hand.sentences:
            if line == "":
                paragraphs.append([])
            else:
                paragraphs[-1].append(line)
        paragraphs = [p for p in paragraphs if p]
        author_pool = FEEDS[feed]["authors"]  # type: ignore[index]
        author = (
            "Company announcement"
            if hand.style.startswith("press")
            else str(author_pool[self.rng.randrange(len(author_pool))])
        )
        # A style may carry the document's dominant tone for the summary, e.g. "column:sceptical".
        style, _, tone = hand.style.partition(":")
        style_label = {
            "press": "Press release",
            "column": "Opinion",
            "social": "Markets chatter",
            "news": "News",
            "analysis": "Analysis",
        }[style]
        self.used_titles.add(hand.title)
        tone = tone or {"press": "hype", "column": "hype", "social": "social"}.get(
            style, "evidence"
        )
        return Doc(
            guid="",
            feed=feed,
            entity=hand.entity,
            published=hand.published,
            title=hand.title,
            author=author,
            style=style,
            paragraphs=paragraphs,
            tones=[tone] * sum(len(p) for p in paragraphs),
            slug=self.slug_for(hand.title, hand.published.date()),
            categories=[CATEGORY_LABEL[hand.entity], *TOPIC_CATEGORIES[hand.entity], style_label],
        )

    def paragraphs(self, sentences: list[str]) -> list[list[str]]:
        paragraphs: list[list[str]] = []
        position = 0
        while position < len(sentences):
            size = 1 if position == 0 else self.rng.choice((1, 2, 2, 3))
            paragraphs.append(sentences[position : position + size])
            position += size
        return paragraphs

    def assign_guids(self, docs: list[Doc]) -> None:
        counters: Counter[str] = Counter()
        for doc in docs:
            counters[doc.feed] += 1
            doc.guid = f"{doc.feed}-{doc.published.year}-{counters[doc.feed]:04d}"

    def syndicate(self, docs: list[Doc]) -> list[Doc]:
        """Republish a few long stories in a sister feed with light edits (near-duplicates)."""
        eligible = [d for d in docs if len(d.sentences) >= 8 and d.style in ("news", "analysis")]
        chosen = sorted(
            self.rng.sample(eligible, min(SYNDICATED_STORIES, len(eligible))), key=lambda d: d.guid
        )
        copies: list[Doc] = []
        for original in chosen:
            target = SYNDICATION_TARGET[original.feed]
            paragraphs = [list(p) for p in original.paragraphs]
            # Wire edits: a trimmed closing sentence and a credit line.
            if len(paragraphs[-1]) > 1:
                paragraphs[-1] = paragraphs[-1][:-1]
            elif len(paragraphs) > 3:
                paragraphs = paragraphs[:-1]
            paragraphs.append(
                [
                    f"This story was first published by {FEEDS[original.feed]['title']} and is republished with permission."
                ]
            )
            title = self.syndicated_title(original.title)
            published = original.published + timedelta(hours=self.rng.randrange(3, 30))
            author = f"{original.author}, {FEEDS[original.feed]['title']}"
            copies.append(
                Doc(
                    guid=f"{target}-syndicated-{original.guid}",
                    feed=target,
                    entity=original.entity,
                    published=published,
                    title=title,
                    author=author,
                    style=original.style,
                    paragraphs=paragraphs,
                    tones=original.tones[: sum(len(p) for p in paragraphs) - 1] + ["neutral"],
                    slug=self.slug_for(title, published.date()),
                    categories=[*original.categories, "Syndicated"],
                    syndicated_from=original.guid,
                )
            )
        return copies

    def syndicated_title(self, title: str) -> str:
        variants = [
            f"{title} (wire)",
            f"Wire: {title}",
            f"{title}, analysts say",
            f"Republished: {title}",
        ]
        for variant in variants:
            if variant not in self.used_titles:
                self.used_titles.add(variant)
                return variant
        return f"{title} - syndicated"

    def assign_pages(self, docs: list[Doc]) -> None:
        """About a quarter of the items carry only a summary; their full text is an article page."""
        for doc in docs:
            if doc.enclosure:
                continue
            roll = self.rng.random()
            if roll < SUMMARY_ONLY_SHARE:
                doc.summary_only = True
                doc.has_page = True
            elif roll < SUMMARY_ONLY_SHARE + EXTRA_PAGE_SHARE:
                doc.has_page = True


# --------------------------------------------------------------------------- rendering


def summary_of(doc: Doc) -> str:
    """A teaser: the lead sentence, shortened at a word boundary when long."""
    lead = doc.sentences[0]
    return textwrap.shorten(lead, width=220, placeholder=" ...")


def paragraphs_html(doc: Doc) -> str:
    return "\n".join(f"<p>{html.escape(' '.join(p), quote=False)}</p>" for p in doc.paragraphs)


def rss_feed(name: str, docs: list[Doc]) -> str:
    meta = FEEDS[name]
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">',
        "<channel>",
        f"  <title>{xml_escape(str(meta['title']))}</title>",
        f"  <link>{SITE_ROOT}</link>",
        f'  <atom:link href="{SITE_ROOT}feeds/{name}.xml" rel="self" type="application/rss+xml"/>',
        f"  <description>{xml_escape(str(meta['description']))}</description>",
        "  <language>en</language>",
        f"  <lastBuildDate>{format_datetime(BUILD_STAMP)}</lastBuildDate>",
        "  <ttl>60</ttl>",
    ]
    for doc in sorted(docs, key=lambda d: (d.published, d.guid), reverse=True):
        out.append("  <item>")
        out.append(f"    <title>{xml_escape(doc.title)}</title>")
        out.append(f"    <link>{doc.url}</link>")
        out.append(f'    <guid isPermaLink="false">{doc.guid}</guid>')
        out.append(f"    <pubDate>{format_datetime(doc.published)}</pubDate>")
        out.append(f"    <dc:creator>{xml_escape(doc.author)}</dc:creator>")
        for category in doc.categories:
            out.append(f"    <category>{xml_escape(category)}</category>")
        out.append(f"    <description>{xml_escape(summary_of(doc))}</description>")
        if doc.enclosure:
            url, length = doc.enclosure
            out.append(f'    <enclosure url="{url}" length="{length}" type="application/pdf"/>')
        if not doc.summary_only and not doc.enclosure:
            out.append(f"    <content:encoded><![CDATA[{paragraphs_html(doc)}]]></content:encoded>")
        out.append("  </item>")
    out += ["</channel>", "</rss>", ""]
    return "\n".join(out)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def atom_feed(name: str, docs: list[Doc]) -> str:
    meta = FEEDS[name]
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">',
        f"  <title>{xml_escape(str(meta['title']))}</title>",
        f"  <subtitle>{xml_escape(str(meta['description']))}</subtitle>",
        f"  <id>tag:demo.analyzer.example,2023:feeds/{name}</id>",
        f'  <link rel="self" type="application/atom+xml" href="{SITE_ROOT}feeds/{name}.xml"/>',
        f'  <link rel="alternate" type="text/html" href="{SITE_ROOT}"/>',
        f"  <updated>{rfc3339(BUILD_STAMP)}</updated>",
        f"  <author><name>{xml_escape(str(meta['title']))}</name></author>",
    ]
    for doc in sorted(docs, key=lambda d: (d.published, d.guid), reverse=True):
        out.append("  <entry>")
        out.append(
            f"    <id>tag:demo.analyzer.example,{doc.published.date().isoformat()}:{doc.guid}</id>"
        )
        out.append(f"    <title>{xml_escape(doc.title)}</title>")
        out.append(f'    <link rel="alternate" type="text/html" href={quoteattr(doc.url)}/>')
        out.append(f"    <published>{rfc3339(doc.published)}</published>")
        out.append(f"    <updated>{rfc3339(doc.published)}</updated>")
        out.append(f"    <author><name>{xml_escape(doc.author)}</name></author>")
        for category in doc.categories:
            term = re.sub(r"[^a-z0-9]+", "-", category.lower()).strip("-")
            out.append(f"    <category term={quoteattr(term)} label={quoteattr(category)}/>")
        out.append(f"    <summary>{xml_escape(summary_of(doc))}</summary>")
        if not doc.summary_only:
            out.append(f'    <content type="html">{xml_escape(paragraphs_html(doc))}</content>')
        out.append("  </entry>")
    out += ["</feed>", ""]
    return "\n".join(out)


SITE_NAV = [
    ("AI infrastructure", "feeds/ai-infrastructure.xml"),
    ("Chips &amp; power", "feeds/chips-and-power.xml"),
    ("Web3 compute", "feeds/web3-compute.xml"),
    ("DeFi", "feeds/defi-desk.xml"),
]


def article_page(doc: Doc, related: list[Doc]) -> str:
    title = html.escape(doc.title)
    published = rfc3339(doc.published)
    desk = html.escape(str(FEEDS[doc.feed]["title"]))
    nav = "\n".join(f'        <li><a href="/{href}">{label}</a></li>' for label, href in SITE_NAV)
    related_items = "\n".join(
        f'        <li><a href="{html.escape(r.url)}">{html.escape(r.title)}</a></li>'
        for r in related
    )
    byline_date = doc.published.strftime("%B %d, %Y").replace(" 0", " ")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title} | {desk}</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="description" content="{html.escape(summary_of(doc))}">
  <meta name="author" content="{html.escape(doc.author)}">
  <meta property="og:type" content="article">
  <meta property="og:title" content="{title}">
  <meta property="article:published_time" content="{published}">
  <meta property="article:section" content="{html.escape(doc.categories[0])}">
  <link rel="canonical" href="{html.escape(doc.url)}">
  <link rel="alternate" type="application/rss+xml" href="/feeds/{doc.feed}.xml">
</head>
<body>
  <div class="cookie-banner" role="dialog" aria-label="Cookie consent">
    <p>We use cookies to remember your preferences and to measure which stories are read. You can accept all cookies or choose which ones to allow.</p>
    <button type="button">Accept all</button> <button type="button">Manage preferences</button>
  </div>
  <header class="site-header">
    <a class="logo" href="/">Demo Analyzer News</a>
    <nav aria-label="Sections">
      <ul>
{nav}
      </ul>
    </nav>
    <form class="search" action="/search"><input type="search" name="q" placeholder="Search stories"></form>
  </header>
  <main>
    <p class="kicker"><a href="/feeds/{doc.feed}.xml">{desk}</a> | {html.escape(doc.categories[-1])}</p>
    <article>
      <header>
        <h1>{title}</h1>
        <p class="byline">By <span class="author">{html.escape(doc.author)}</span> | <time datetime="{published}">{byline_date}</time></p>
      </header>
{paragraphs_html(doc)}
    </article>
    <aside class="newsletter">
      <h2>Get the {desk} newsletter</h2>
      <p>Our editors' picks, every weekday morning. Sign up with your email address; unsubscribe at any time.</p>
    </aside>
    <aside class="related">
      <h2>Related stories</h2>
      <ul>
{related_items}
      </ul>
    </aside>
  </main>
  <footer class="site-footer">
    <p>Demo Analyzer News is a fictional publication written for the analyzer demo. Articles are not real reporting.</p>
    <p><a href="/about.html">About</a> | <a href="/privacy.html">Privacy</a> | <a href="/terms.html">Terms of use</a> | <a href="/contact.html">Contact</a></p>
    <p>&copy; 2023-2025 Demo Analyzer News. All rights reserved.</p>
  </footer>
</body>
</html>
"""


# --------------------------------------------------------------------------- PDF


def pdf_escape(text: str) -> str:
    if any(ord(c) > 126 for c in text):
        raise ValueError(f"whitepaper text must be ASCII: {text!r}")
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


PAGE_WIDTH, PAGE_HEIGHT = 612, 792
MARGIN = 72
BODY_SIZE, BODY_LEADING = 10.5, 14.5
WRAP_CHARS = 92


def layout_whitepaper(source: str) -> tuple[dict[str, str], list[list[tuple[str, str]]]]:
    """Lines of a whitepaper source split into pages of (font, text) lines.

    Source syntax: ``Key: value`` header lines up to the first blank line; then ``# `` title,
    ``## `` headings, ``- `` bullets, blank lines between paragraphs and ``\\f`` (a line holding
    just ``[page]``) for a forced page break.
    """
    header, _, body = source.partition("\n\n")
    meta = dict(line.split(": ", 1) for line in header.splitlines())
    usable = int((PAGE_HEIGHT - 2 * MARGIN) / BODY_LEADING)
    pages: list[list[tuple[str, str]]] = [[]]

    def add(font: str, text: str) -> None:
        if len(pages[-1]) >= usable:
            pages.append([])
        pages[-1].append((font, text))

    for block in re.split(r"\n\s*\n", body.strip()):
        block = block.strip()
        if block == "[page]":
            pages.append([])
            continue
        if block.startswith("# "):
            add("title", block[2:])
            add("body", "")
            continue
        if block.startswith("## "):
            if pages[-1] and len(pages[-1]) > usable - 6:
                pages.append([])
            add("heading", block[3:])
            continue
        lines = block.splitlines()
        if all(line.startswith("- ") for line in lines):
            for line in lines:
                wrapped = textwrap.wrap(line[2:], WRAP_CHARS - 4)
                for position, piece in enumerate(wrapped):
                    add("body", ("- " if position == 0 else "  ") + piece)
        else:
            for piece in textwrap.wrap(" ".join(lines), WRAP_CHARS):
                add("body", piece)
        add("body", "")
    pages = [p for p in pages if any(text for _, text in p)]
    return meta, pages


def pdf_bytes(meta: dict[str, str], pages: list[list[tuple[str, str]]]) -> bytes:
    fonts = {"body": ("F1", BODY_SIZE), "heading": ("F2", 13.0), "title": ("F2", 18.0)}
    objects: list[bytes] = []

    def add(obj: bytes) -> int:
        objects.append(obj)
        return len(objects)

    catalog = add(b"")  # filled in below
    pages_obj = add(b"")
    font_regular = add(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    font_bold = add(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"
    )
    info = add(
        f"<< /Title ({pdf_escape(meta['Title'])}) /Author ({pdf_escape(meta['Author'])})"
        f" /Subject ({pdf_escape(meta.get('Subject', ''))}) /Producer (analyzer demo build)"
        f" /CreationDate (D:{meta['Date'].replace('-', '')}000000Z) >>".encode("ascii")
    )
    page_ids: list[int] = []
    for number, lines in enumerate(pages, 1):
        ops = [
            "BT",
            f"/F1 {BODY_SIZE} Tf",
            f"{BODY_LEADING} TL",
            f"{MARGIN} {PAGE_HEIGHT - MARGIN} Td",
        ]
        current_font = "body"
        for font, text in lines:
            if font != current_font:
                name, size = fonts[font]
                ops.append(f"/{name} {size} Tf")
                current_font = font
            ops.append(f"({pdf_escape(text)}) Tj T*")
        ops.append("ET")
        footer = f"{meta['Title']} - page {number} of {len(pages)}"
        ops += ["BT", "/F1 8 Tf", f"{MARGIN} {MARGIN / 2} Td", f"({pdf_escape(footer)}) Tj", "ET"]
        stream = "\n".join(ops).encode("ascii")
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        page = add(
            f"<< /Type /Page /Parent {pages_obj} 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}]"
            f" /Resources << /Font << /F1 {font_regular} 0 R /F2 {font_bold} 0 R >> >>"
            f" /Contents {content} 0 R >>".encode("ascii")
        )
        page_ids.append(page)
    kids = " ".join(f"{p} 0 R" for p in page_ids)
    objects[pages_obj - 1] = f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>".encode(
        "ascii"
    )
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {pages_obj} 0 R >>".encode("ascii")

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    file_id = hashlib.md5(bytes(out)).hexdigest()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R /Info {info} 0 R"
        f" /ID [<{file_id}> <{file_id}>] >>\nstartxref\n{xref_at}\n%%EOF\n"
    ).encode("ascii")
    return bytes(out)


def whitepapers() -> list[tuple[str, dict[str, str], bytes]]:
    built = []
    for path in sorted((HERE / "whitepapers_src").glob("*.txt")):
        meta, pages = layout_whitepaper(path.read_text(encoding="utf-8"))
        built.append((path.stem, meta, pdf_bytes(meta, pages)))
    return built


# --------------------------------------------------------------------------- output


def build_outputs() -> tuple[dict[str, bytes], list[Doc], Pools]:
    pools = load_pools()
    builder = Builder(pools)
    docs = builder.build()
    files: dict[str, bytes] = {}
    for stem, meta, data in whitepapers():
        files[f"site/whitepapers/{stem}.pdf"] = data
        published = datetime.fromisoformat(meta["Published"]).replace(tzinfo=timezone.utc)
        url = f"{SITE_ROOT}whitepapers/{stem}.pdf"
        docs.append(
            Doc(
                guid=f"web3-compute-whitepaper-{stem}",
                feed="web3-compute",
                entity=meta["Entity"],
                published=published,
                title=meta["Title"],
                author=meta["Author"],
                style="whitepaper",
                paragraphs=[[meta["Summary"]]],
                tones=["hype"],
                categories=["Whitepaper", "DePIN", "Tokens"],
                enclosure=(url, len(data)),
                link=url,
            )
        )
    by_feed: dict[str, list[Doc]] = defaultdict(list)
    for doc in docs:
        by_feed[doc.feed].append(doc)
    for name, meta in FEEDS.items():
        render = rss_feed if meta["format"] == "rss" else atom_feed
        files[f"site/feeds/{name}.xml"] = render(name, by_feed[name]).encode("utf-8")
    paged = [d for d in docs if d.has_page]
    for doc in paged:
        same_entity = [
            d for d in docs if d.entity == doc.entity and d is not doc and not d.enclosure
        ]
        same_entity.sort(key=lambda d: abs((d.published - doc.published).total_seconds()))
        files[f"site/articles/{doc.slug}.html"] = article_page(doc, same_entity[:3]).encode("utf-8")
    files["site/robots.txt"] = b"User-agent: *\nAllow: /\nDisallow: /drafts/\n"
    files["site/index.html"] = index_page().encode("utf-8")
    files["fundamentals.csv"] = fundamentals_csv().encode("utf-8")
    return files, docs, pools


def index_page() -> str:
    links = "\n".join(f'    <li><a href="/{href}">{label}</a></li>' for label, href in SITE_NAV)
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Demo Analyzer News</title></head>
<body>
  <h1>Demo Analyzer News</h1>
  <p>A fictional publication written for the analyzer demo. Feeds:</p>
  <ul>
{links}
  </ul>
</body>
</html>
"""


def summarise(docs: list[Doc], pools: Pools) -> str:
    lines = []
    stories = [d for d in docs if not d.syndicated_from]
    lines.append(
        f"documents: {len(docs)} ({len(stories)} stories, {len(docs) - len(stories)} syndicated copies)"
    )
    lines.append(
        f"summary-only items: {sum(d.summary_only for d in docs)}; article pages: {sum(d.has_page for d in docs)}"
    )
    lines.append(
        f"distinct pooled sentences: {pools.distinct_sentences()}; hand-written documents: {len(pools.docs)}"
    )
    by_quarter: Counter[str] = Counter(quarter_of(d.published.date()) for d in docs)
    lines.append("per quarter: " + ", ".join(f"{q}={by_quarter[q]}" for q in QUARTERS))
    by_entity: Counter[str] = Counter(d.entity for d in docs)
    lines.append("per entity: " + ", ".join(f"{e}={by_entity[e]}" for e in sorted(by_entity)))
    by_feed: Counter[str] = Counter(d.feed for d in docs)
    lines.append("per feed: " + ", ".join(f"{f}={by_feed[f]}" for f in sorted(by_feed)))
    lines.append("hype share of sentences per group and quarter (pool tones):")
    for group in ("ai", "depin", "defi"):
        shares = []
        for quarter in QUARTERS:
            tones = [
                t
                for d in docs
                if GROUP_OF[d.entity] == group and quarter_of(d.published.date()) == quarter
                for t in d.tones
            ]
            counts = Counter(tones)
            hype = counts["hype"] + counts["social"]
            shares.append(
                f"{hype / max(len(tones), 1):.2f}/{counts['sceptical'] / max(len(tones), 1):.2f}"
            )
        lines.append(f"  {group:6s} hype/sceptical: " + " ".join(shares))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="fail if the files on disk differ from a fresh build"
    )
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    files, docs, pools = build_outputs()
    if args.check:
        stale = [
            name
            for name, data in sorted(files.items())
            if not (HERE / name).is_file() or (HERE / name).read_bytes() != data
        ]
        if stale:
            print(
                f"{len(stale)} file(s) differ from a fresh build, e.g. {stale[:3]}", file=sys.stderr
            )
            return 1
        print(f"{len(files)} files up to date")
        return 0
    expected = set(files)
    for folder in ("site/articles", "site/feeds", "site/whitepapers"):
        for path in sorted((HERE / folder).glob("*")) if (HERE / folder).is_dir() else []:
            if str(path.relative_to(HERE)) not in expected:
                path.unlink()
    for name, data in sorted(files.items()):
        target = HERE / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_bytes() != data:
            target.write_bytes(data)
    if not args.quiet:
        print(summarise(docs, pools))
    return 0


if __name__ == "__main__":
    sys.exit(main())
