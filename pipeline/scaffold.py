"""`noticecast new KIND ID`: a notice with every field of its kind, commented in Chinese.

Required fields are filled with placeholders that pass `noticecast check` (so the office can
save, check and fill in step by step); optional fields are written out commented, so nobody has
to look up their names. The notice starts as a draft: nothing is published until someone sets
``status: approved``.
"""

from __future__ import annotations

import os
import unicodedata
from datetime import date, timedelta
from pathlib import Path

from pipeline.config import Config
from pipeline.errors import InputError, ResourceError
from pipeline.model import SLUG, Kind, Level, Notice

# The longest id a notice may have (the model's limit), well inside any file system's limit of
# 255 bytes for a file name.
MAX_ID_LENGTH = Notice.model_fields["id"].metadata[-1].max_length

COMMENT_COLUMN = 36  # where the Chinese comments start, in display columns

# Each template line is `yaml text` or `yaml text  ## comment`; the comments are aligned below.
HEAD = """\
## {label} —— 由 `noticecast new` 生成。填好后把 status 改为 approved 才会发布。
id: "{id}"  ## 编号：与文件名相同，只用小写字母、数字、- 和 _
revision: 1  ## 版本：更正时改为 2，并填写下方 correction
kind: {kind}  ## 类别：{kinds}
title: 请填写标题  ## 标题
issuer: {issuer}  ## 发布单位，如 什邡市扶贫移民局、某某镇人民政府
level: {level}  ## 层级：county 县级 / town 乡镇级 / village 村级
area: {area}  ## 地区：县/镇/村；县级只写县，乡镇级写到镇
published: {published} 09:00:00  ## 发布时间（北京时间）
"""

PUBLICITY = """\
publicity:  ## 公示期（含首尾两天）：乡镇、村级资金项目不少于 {days} 天
  start: {start}
  end: {end}
"""

PUBLICITY_OPTIONAL = """\
# publicity:  ## 公示期（可删；县级长期公开可不填）
#   start: {start}
#   end: {end}
"""

PROJECT = """\
project:  ## 项目明细（项目明细表）
  name: 请填写项目名称  ## 项目名称
  # code: SF-2018-XM-001  ## 项目编号（可删；计划、公示、更正、竣工公示同一编号即同一项目）
  location: 请填写实施地点  ## 实施地点
  content: 请填写建设内容  ## 建设内容（建设任务）
  subsidy_standard: 请填写补助标准  ## 补助标准（可删）
  period:  ## 实施期限（可删）
    start: {start}
    end: {project_end}
  implementer: 请填写实施单位  ## 实施单位
  responsible:  ## 责任人
    name: 请填写姓名
    phone: "13800000000"  ## 手机或带区号的座机，如 0838-8202012
  funds:  ## 资金来源及规模，单位：元（显示为万元）；可有多项
    - source: 中央财政专项扶贫资金
      amount: 100000
  total: 100000  ## 总投资（元），须等于各来源之和（可删）
  performance_goal: 请填写绩效目标  ## 绩效目标（可删）
  poverty_mechanism: 请填写带贫减贫机制  ## 带贫减贫机制（可删）
  beneficiaries:  ## 受益户数（可删）
    households: 0  ## 受益户数
    poor_households: 0  ## 其中贫困户数
    # people: 0  ## 受益人数（可删）
"""

CONTACT = """\
contact:  ## 联系方式
  office_phone: "{phone}"  ## 咨询电话
  supervision_phone: "{supervision}"  ## 监督电话
  hotline: "12317"  ## 全国扶贫监督举报电话
  # address: 请填写地址  ## 地址（可删）
summary: 请用一句话概括。  ## 摘要：一句话，用于滚动字幕、短信和手机卡片
body: |  ## 正文（Markdown，可用列表和表格）
  请填写正文。
"""

INTERPRETATION = """\
interpretation: |  ## 政策解读：用群众听得懂的话说明政策
  请填写政策解读。
attachments:  ## 附件（可删）
  - title: 请填写附件标题
    url: https://example.gov.cn/files/{id}.pdf
"""

ATTACHMENTS_OPTIONAL = """\
# attachments:  ## 附件（可删）
#   - title: 附件标题
#     url: https://example.gov.cn/files/{id}.pdf
"""

TAIL = """\
# channels: [site, sms]  ## 发布渠道（可删；不填则按 noticecast.yaml 中该类别的默认渠道）
# tags: [示例标签]  ## 标签（可删）
# correction:  ## 更正说明：revision 为 2 及以上时必填
#   note: 请说明更正了什么
#   changes:
#     - 某项由某某更正为某某
#   sms_summary: 总投资更正为47.8万元  ## 短信里的更正说明（可删；说明较长时填写，至多60字）
# minor_edit: true  ## 发出后只改错别字、不通知已收到的人时填写（可删）
# expires: {today} 18:00  ## 紧急通知的失效时间（可删；不填则按 site.urgent_days 计算）
# withdrawal:  ## 撤回说明：status 为 withdrawn 时必填
#   reason: 请说明撤回原因
#   on: {today}
status: draft  ## 状态：draft 草稿 / approved 已审核 / withdrawn 已撤回
"""


def _width(text: str) -> int:
    """Display columns: Chinese characters take two, as in an editor."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def align_comments(text: str) -> str:
    """Turn `value  ## comment` into `value   # comment`, comments in one column."""
    lines = []
    for line in text.splitlines():
        value, marker, comment = line.partition("  ## ")
        if line.startswith("## "):
            lines.append("# " + line[3:])
        elif marker:
            pad = max(COMMENT_COLUMN - _width(value), 2)
            lines.append(f"{value}{' ' * pad}# {comment}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def scaffold(kind_text: str, notice_id: str, folder: Path, config: Config, today: date) -> Path:
    kind = Kind.parse(kind_text)
    if not isinstance(kind, Kind):
        options = ", ".join(f"{k.value} ({k.label})" for k in Kind)
        raise InputError.at("<command line>", 0, 0,
                            f"unknown kind {kind_text!r}; use one of {options}")
    if not SLUG.match(notice_id):
        raise InputError.at("<command line>", 0, 0,
                            f"id {notice_id!r} is not a slug; use lower-case letters, digits, "
                            "'-' and '_', e.g. sf-2018-0012")
    if len(notice_id) > MAX_ID_LENGTH:
        raise InputError.at("<command line>", 0, 0,
                            f"id is {len(notice_id)} characters long, over the limit of "
                            f"{MAX_ID_LENGTH}; choose a shorter id, e.g. sf-2018-0012")
    path = folder / f"{notice_id}.yaml"
    text = scaffold_text(kind, notice_id, config, today).encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise InputError.at(str(path), 0, 0, "file exists already; choose another id") from None
    except OSError as exc:
        raise ResourceError.from_os_error(exc, exc.filename or path) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(text)
    except OSError as exc:
        path.unlink(missing_ok=True)  # never leave half a notice behind
        raise ResourceError.from_os_error(exc, path) from None
    return path


def scaffold_text(kind: Kind, notice_id: str, config: Config, today: date) -> str:
    """The text of a new notice of ``kind``; it passes `noticecast check` as it is."""
    county = next(iter(config.regions), "某县")
    towns = config.regions.get(county) or {}
    town = next(iter(towns), "某镇")
    villages = towns.get(town) or ["某村"]
    fund = kind.is_fund_notice
    # Fund notices are mostly posted where the money lands, in the village; the rest are
    # usually county-wide.
    level = Level.village if fund else Level.county
    area = f"{county}/{town}/{villages[0]}" if fund else county
    start = today + timedelta(days=1)
    # The period counts both ends, so the minimum of N days ends on day start + N - 1.
    days = config.rules.min_publicity_days
    text = HEAD.format(
        label=f"{kind.label}（{kind.value}）", id=notice_id, kind=kind.value,
        kinds=" / ".join(f"{k.value} {k.label}" for k in Kind),
        issuer=config.office.name, level=level.value, area=area, published=start.isoformat())
    dates = {"start": start, "end": start + timedelta(days=days - 1), "days": days}
    needs_publicity = fund and level in config.rules.min_publicity_levels
    text += (PUBLICITY if needs_publicity else PUBLICITY_OPTIONAL).format(**dates)
    if fund:
        text += PROJECT.format(start=start, project_end=start + timedelta(days=90))
    phone = config.office.phone or config.office.supervision_phone or "0838-8202011"
    text += CONTACT.format(phone=phone, supervision=config.office.supervision_phone or phone)
    text += (INTERPRETATION if kind is Kind.policy else ATTACHMENTS_OPTIONAL).format(id=notice_id)
    text += TAIL.format(today=today.isoformat())
    return align_comments(text)
