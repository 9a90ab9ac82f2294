"""`noticecast new KIND ID`: a notice with every field of its kind, commented in Chinese."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from pipeline.config import Config
from pipeline.errors import InputError
from pipeline.model import SLUG, Kind

HEAD = """\
# {label}公告 —— 由 `noticecast new` 生成。填写后把 status 改为 approved 才会发布。
id: {id}                      # 编号：与文件名相同，只用小写字母、数字、- 和 _
revision: 1                   # 版本：更正时改为 2，并填写下方 correction
kind: {kind}                  # 类别：{kinds}
title: 请填写标题              # 标题
issuer: {issuer}              # 发布单位
level: {level}                # 层级：county 县级 / town 乡镇级 / village 村级
area: {area}                  # 地区：县/镇/村，层级为 county 时只写县
published: {published} 09:00:00   # 发布时间（北京时间）
"""

PUBLICITY = """\
publicity:                    # 公示期：乡镇、村级资金项目不少于 {days} 天
  start: {start}
  end: {end}
"""

PROJECT = """\
project:                      # 项目明细
  name: 请填写项目名称          # 项目名称
  location: 请填写实施地点      # 实施地点
  content: 请填写建设内容       # 建设内容（建设任务）
  subsidy_standard: 请填写补助标准   # 补助标准（可删）
  period:                     # 实施期限
    start: {start}
    end: {project_end}
  implementer: 请填写实施单位   # 实施单位
  responsible:                # 责任人
    name: 请填写姓名
    phone: "13800000000"
  funds:                      # 资金来源及规模，单位：元（显示为万元）
    - source: 中央财政专项扶贫资金
      amount: 100000
  total: 100000               # 总投资（元），须等于各来源之和（可删）
  performance_goal: 请填写绩效目标   # 绩效目标（可删）
  poverty_mechanism: 请填写带贫减贫机制   # 带贫减贫机制（可删）
  beneficiaries:              # 受益户数 / 其中贫困户数（可删）
    households: 0
    poor_households: 0
"""

TAIL = """\
contact:                      # 联系方式
  office_phone: "{phone}"     # 咨询电话
  supervision_phone: "{phone}"  # 监督电话
  hotline: "12317"            # 全国扶贫监督举报电话
summary: 请用一句话概括，用于滚动字幕、短信和手机卡片。   # 摘要
body: |                       # 正文（Markdown）
  请填写正文。
{interpretation}status: draft   # 状态：draft 草稿 / approved 已审核 / withdrawn 已撤回
"""

INTERPRETATION = """\
interpretation: |             # 政策解读
  请填写政策解读。
"""


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
    path = folder / f"{notice_id}.yaml"
    if path.exists():
        raise InputError.at(str(path), 0, 0, "file exists already; choose another id")
    county = next(iter(config.regions), "某县")
    towns = config.regions.get(county) or {}
    town = next(iter(towns), "某镇")
    villages = towns.get(town) or ["某村"]
    fund = kind.is_fund_notice
    level = "village" if fund else "county"
    area = f"{county}/{town}/{villages[0]}" if fund else county
    start = today + timedelta(days=1)
    text = HEAD.format(
        label=kind.label, id=notice_id, kind=kind.value,
        kinds=" / ".join(f"{k.value} {k.label}" for k in Kind),
        issuer=config.office.name, level=level, area=area, published=start.isoformat())
    if fund:
        text += PUBLICITY.format(days=config.rules.min_publicity_days, start=start,
                                 end=start + timedelta(days=config.rules.min_publicity_days))
        text += PROJECT.format(start=start, project_end=start + timedelta(days=90))
    text += TAIL.format(phone=config.office.supervision_phone or "0838-8888888",
                        interpretation=INTERPRETATION if kind is Kind.policy else "")
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return path
