/* Page strings in Chinese (default) and English, and Chinese wording of the server's reason codes.
   English reason messages come from the server (simkyc.errors.Reason). */
"use strict";

const STRINGS = {
  zh: {
    brand: "simkyc 实名登记", nav_register: "登记", nav_mine: "本网点记录", nav_reviews: "待复核",
    nav_audit: "审计", nav_dashboard: "统计", nav_admin: "管理", logout: "退出", api_docs: "API 文档",
    login_title: "工作人员登录", username: "用户名", password: "密码", login: "登录",
    intake_title: "第一步：证件信息", tab_chip: "读卡器记录", tab_ocr: "拍摄证件",
    chip_hint: "或上传身份证读卡器导出的记录文件（JSON）。",
    ocr_hint: "上传身份证人像面照片，系统识别后请核对每一项。",
    ocr_running: "正在识别…", ocr_done: "识别完成，请逐项核对。", chip_done: "已读取读卡器记录，请核对。",
    f_name: "姓名", f_id_number: "公民身份号码", f_sex: "性别", male: "男", female: "女",
    f_birth_date: "出生日期", f_valid_from: "有效期起", f_valid_until: "有效期止（长期留空）", f_address: "住址",
    f_phone: "办理号码", f_portrait: "证件照片", next: "下一步", back: "返回",
    need_portrait: "需要证件照片：请上传读卡器记录或证件照片。",
    consent_title: "第二步：人脸信息处理告知",
    consent_text:
      "<p>为落实电话用户真实身份信息登记要求，本营业厅将采集您的现场人脸图像，与您的居民身份证照片进行比对，并进行活体检测。</p>" +
      "<ul><li>处理目的：核验办理人与证件持有人为同一人，防止冒用身份办理电话号码。</li>" +
      "<li>处理方式：现场图像仅用于本次核验，核验结束即删除；仅保存加密的人脸特征值，用于防止同一人以他人证件重复登记，号码注销后删除。</li>" +
      "<li>需要人工复核时，相关图像加密保存，复核结束即删除，最长 30 天。</li>" +
      "<li>您有权拒绝；拒绝人脸核验时，请前往人工窗口按其他方式办理。</li></ul>",
    consent_agree: "客户已阅读并单独同意上述人脸信息处理", start_check: "开始核验",
    camera_title: "第三步：活体核验", camera_starting: "正在打开摄像头…", camera_denied: "无法打开摄像头：",
    face_in_oval: "请将脸部置于框内", prompt_blink: "请眨眼", prompt_turn_left: "请向左转头",
    prompt_turn_right: "请向右转头", prompt_nod: "请点头", step_done: "完成", deciding: "正在判定…",
    seconds_left: "剩余 {s} 秒", frames_sent: "已发送 {n} 帧",
    result_title: "核验结果", retry: "重新核验", next_customer: "下一位客户",
    counter_go: "客户本人查询或注销号码（读卡后核验本人）", numbers_title: "客户名下号码",
    col_operator: "运营商", col_outlet: "办理网点", cancel_number: "注销", cancel_confirm: "确认注销号码 {phone}？",
    number_active: "使用中", number_cancelled: "已注销", number_suspended: "已暂停",
    words_presence_APPROVED: "本人核验通过：以下为该客户在本运营商名下的号码（10 分钟内可注销）。",
    need_card: "请先读卡（姓名和公民身份号码）。",
    out_APPROVED: "通过", out_REJECTED: "未通过", out_REVIEW: "转人工复核", out_RETRY: "请重试", out_OPEN: "进行中",
    out_EXPIRED: "已过期", out_CANCELLED: "已注销", out_ERROR: "未能完成核验",
    words_ERROR: "系统未能作出判定，号码未登记。请稍后重新核验。原因：",
    words_APPROVED: "核验通过，号码 {phone} 已登记在该客户名下。",
    words_REJECTED: "核验未通过，号码未登记。原因如下：",
    words_REVIEW: "需要主管人工复核，复核通过后号码才会登记。原因如下：",
    words_RETRY: "本次采集不足以判定，请调整后重新核验。原因如下：",
    fact_reg: "登记编号", fact_score: "比对分数", fact_threshold: "阈值", fact_id: "证件号",
    mine_title: "本网点登记记录", col_time: "时间", col_id: "证件号", col_phone: "号码", col_status: "状态",
    col_reasons: "原因", col_actor: "操作人", col_action: "动作", col_object: "对象", col_details: "详情",
    reviews_title: "待复核", review_pick: "请从左侧选择一条待复核记录。", review_empty: "没有待复核的记录。",
    ev_id_photo: "证件照片", ev_live: "现场图像", comment: "复核意见（必填）", approve: "通过", reject: "拒绝",
    review_done: "已提交复核结果。", candidates: "相似人脸（其他证件）",
    audit_title: "审计日志", chain_ok: "审计链完整：{n} 条记录，最近签名检查点 #{c}",
    chain_bad: "审计链异常：", dashboard_title: "登记与拒绝原因统计", chart_per_day: "每日登记量（按网点）",
    chart_reasons: "拒绝与复核原因", chart_outcomes: "结果（按网点）", no_data: "暂无数据",
    admin_title: "管理", users: "工作人员", role: "角色", outlet: "网点", active: "启用", add_user: "添加",
    keys: "平台密钥", platform: "平台", scopes: "范围", add_key: "生成密钥", revoke: "吊销",
    key_once: "新密钥（只显示这一次，请妥善交给平台）：", yes: "是", no: "否",
    err_network: "网络错误，请重试。",
    reader_read: "读取身份证", reader_checking: "正在连接读卡器…", reader_waiting: "请将身份证放在读卡器上。",
    reader_ready: "已读到身份证：点击“读取身份证”填入表格。", reader_offline: "未连接读卡器：可上传读卡器记录文件。",
    reader_filled: "已从读卡器填入，请逐项核对。", reader_no_portrait: "读卡器无法解码证件照片：请在“拍摄证件”中上传证件照片用于比对。",
    f_ethnicity: "民族", f_issuer: "签发机关", login_failed: "用户名或密码错误。",
    no_face: "未检测到人脸：请正对摄像头，把脸放进框内",
    light_fallback: "客户对闪烁光线敏感：不闪烁屏幕，本次登记须由主管复核确认",
    light_ready_title: "准备：屏幕将闪烁几种颜色（约 4 秒）",
    light_ready_text: "请客户靠近屏幕，脸部放在框内，注视屏幕并保持不动。颜色闪烁结束后再按提示做动作。若客户对闪光敏感，请返回上一步勾选“对闪烁光线敏感”。",
    light_start: "开始", light_look: "请注视屏幕，保持不动",
    light_waived_note: "未闪烁屏幕（客户对闪光敏感）：本次登记将由主管复核。",
  },
  en: {
    brand: "simkyc real-name registration", nav_register: "Register", nav_mine: "Outlet records",
    nav_reviews: "Reviews", nav_audit: "Audit", nav_dashboard: "Dashboard", nav_admin: "Admin", logout: "Sign out",
    api_docs: "API docs", login_title: "Staff sign-in", username: "User name", password: "Password", login: "Sign in",
    intake_title: "Step 1: ID document", tab_chip: "Card reader record", tab_ocr: "Card photo",
    chip_hint: "Or upload the record file (JSON) exported by the ID card reader.",
    ocr_hint: "Upload a photo of the card's portrait side; check every field after reading.",
    ocr_running: "Reading…", ocr_done: "Read; check every field.", chip_done: "Reader record loaded; check it.",
    f_name: "Name", f_id_number: "ID number", f_sex: "Sex", male: "Male", female: "Female",
    f_birth_date: "Date of birth", f_valid_from: "Valid from", f_valid_until: "Valid until (empty = long-term)",
    f_address: "Address", f_phone: "Phone number", f_portrait: "ID photo", next: "Next", back: "Back",
    need_portrait: "An ID photo is needed: upload the reader record or a card photo.",
    consent_title: "Step 2: Face processing notice",
    consent_text:
      "<p>To meet the real-name registration rules, this outlet will capture your live face, compare it with your ID card photo and check that it is a live person.</p>" +
      "<ul><li>Purpose: make sure the person present holds the ID, so nobody registers a number under another's identity.</li>" +
      "<li>Live images are used for this check only and deleted when it ends; only an encrypted face template is kept, to stop one person registering under other IDs, and it is deleted when the number is cancelled.</li>" +
      "<li>If a supervisor must review, the images are kept encrypted until the review ends, at most 30 days.</li>" +
      "<li>You may refuse; the counter will then register you another way.</li></ul>",
    consent_agree: "The customer has read and separately agreed to this face processing", start_check: "Start check",
    camera_title: "Step 3: Liveness check", camera_starting: "Opening the camera…", camera_denied: "Cannot open the camera: ",
    face_in_oval: "Keep your face inside the oval", prompt_blink: "Please blink", prompt_turn_left: "Turn your head left",
    prompt_turn_right: "Turn your head right", prompt_nod: "Please nod", step_done: "done", deciding: "Deciding…",
    seconds_left: "{s} s left", frames_sent: "{n} frames sent",
    result_title: "Result", retry: "Try again", next_customer: "Next customer",
    counter_go: "Customer's own numbers: look up or cancel (card read, then a live check)", numbers_title: "Numbers under this customer",
    col_operator: "Operator", col_outlet: "Outlet", cancel_number: "Cancel", cancel_confirm: "Cancel number {phone}?",
    number_active: "Active", number_cancelled: "Cancelled", number_suspended: "Suspended",
    words_presence_APPROVED: "The customer is present: their numbers with this operator (cancellable for 10 minutes).",
    need_card: "Read the card first (name and ID number).",
    out_APPROVED: "Approved", out_REJECTED: "Rejected", out_REVIEW: "Sent to review", out_RETRY: "Please retry",
    out_OPEN: "In progress", out_EXPIRED: "Expired", out_CANCELLED: "Cancelled", out_ERROR: "Check not completed",
    words_ERROR: "The system could not decide; the number was not registered. Try again shortly. Why:",
    words_APPROVED: "Verified: number {phone} is now registered to this customer.",
    words_REJECTED: "Not verified; the number was not registered, because:",
    words_REVIEW: "A supervisor must review this; the number is registered only if they approve. Why:",
    words_RETRY: "The capture was not good enough to decide; adjust and try again. Why:",
    fact_reg: "Registration", fact_score: "Match score", fact_threshold: "Threshold", fact_id: "ID",
    mine_title: "Registrations at this outlet", col_time: "Time", col_id: "ID", col_phone: "Number",
    col_status: "Status", col_reasons: "Reasons", col_actor: "Actor", col_action: "Action", col_object: "Object",
    col_details: "Details", reviews_title: "Review queue", review_pick: "Pick a case on the left.",
    review_empty: "No cases waiting.", ev_id_photo: "ID photo", ev_live: "Live capture",
    comment: "Comment (required)", approve: "Approve", reject: "Reject", review_done: "Decision recorded.",
    candidates: "Similar faces (other IDs)", audit_title: "Audit log",
    chain_ok: "Audit chain intact: {n} entries, last signed checkpoint #{c}", chain_bad: "Audit chain broken: ",
    dashboard_title: "Registrations and rejection reasons", chart_per_day: "Registrations per day (by outlet)",
    chart_reasons: "Rejection and review reasons", chart_outcomes: "Outcomes by outlet", no_data: "No data yet",
    admin_title: "Admin", users: "Staff", role: "Role", outlet: "Outlet", active: "Active", add_user: "Add",
    keys: "Platform keys", platform: "Platform", scopes: "Scopes", add_key: "Create key", revoke: "Revoke",
    key_once: "New key (shown only once; hand it to the platform securely):", yes: "yes", no: "no",
    err_network: "Network error; please retry.",
    reader_read: "Read ID card", reader_checking: "Connecting to the card reader…",
    reader_waiting: "Place the ID card on the reader.", reader_ready: "Card read: click Read ID card to fill the form.",
    reader_offline: "No card reader connected: upload the reader's record file instead.",
    reader_filled: "Filled from the card reader; check every field.",
    reader_no_portrait: "The reader cannot decode the card's photo: upload a photo of the card (Card photo tab) for the comparison.",
    f_ethnicity: "Ethnicity", f_issuer: "Issuing authority", login_failed: "Wrong user name or password.",
    no_face: "No face found: look at the camera, face inside the oval",
    light_fallback: "The customer is sensitive to flashing light: no flashes; a supervisor must confirm this registration",
    light_ready_title: "Get ready: the screen will flash a few colours (about 4 s)",
    light_ready_text: "Have the customer come close to the screen, face inside the oval, look at the screen and hold still. The actions follow the flashes. If the customer is sensitive to flashing light, go back and tick the box for it.",
    light_start: "Start", light_look: "Look at the screen and hold still",
    light_waived_note: "No flashes (customer sensitive to flashing light): a supervisor reviews this registration.",
  },
};

const REASONS_ZH = {
  IMAGE_UNREADABLE: "文件不是可解码的图片。", IMAGE_TOO_LARGE: "图片过大。", IMAGE_TOO_SMALL: "图片过小，无法包含可用的人脸。",
  REQUEST_TOO_LARGE: "请求过大。", INVALID_REQUEST: "请求格式有误。", MODEL_MISSING: "模型文件缺失。",
  NO_FACE: "未检测到人脸。", MULTIPLE_FACES: "检测到多张人脸。", FACE_TOO_SMALL: "人脸太小，请靠近摄像头。",
  BLURRY: "图像模糊。", POOR_EXPOSURE: "光线过暗或过亮。", POSE_TOO_LARGE: "脸部偏转过大。",
  LOW_QUALITY: "图像质量不足，请重试。", FACE_MATCH: "现场人脸与证件照片一致。", FACE_MISMATCH: "现场人脸与证件照片不一致。",
  LIVENESS_ACTION_MISSING: "未检测到要求的动作。", LIVENESS_WRONG_ORDER: "动作顺序不正确。",
  LIVENESS_TIMEOUT: "未在规定时间内完成动作。", CHALLENGE_INVALID: "活体核验请求无效或已使用。",
  FACE_CHANGED: "核验过程中人脸发生了变化。", FACE_LOST: "核验过程中人脸离开了画面。",
  STALE_OR_REPLAYED_FRAMES: "图像帧不是实时采集的（重复、乱序或超出时间窗口）。",
  SPOOF_PLANAR_MOTION: "人脸的运动像一张平面照片。", SPOOF_SCREEN: "人脸疑似显示在屏幕上（翻拍）。",
  SPOOF_PRINT: "人脸疑似打印的照片。", LIVENESS_LOCKED: "该证件活体核验失败次数过多，请稍后再试。",
  ID_NUMBER_FORMAT: "身份证号码格式不正确。", ID_NUMBER_CHECKSUM: "身份证号码校验位错误。",
  ID_NUMBER_BIRTH_DATE: "身份证号码中的出生日期无效。", ID_NUMBER_REGION: "身份证号码中的地区码不存在。",
  ID_NUMBER_INVALID: "身份证号码无效。", ID_FIELDS_INCONSISTENT: "证件信息与身份证号码不一致。",
  ID_EXPIRED: "证件已过有效期。", ID_NOT_YET_VALID: "证件尚未生效。", ID_PHOTO_MISSING: "证件记录中没有可用的照片。",
  ID_RECORD_INVALID: "读卡器记录格式错误。", UNDERAGE_NEEDS_GUARDIAN: "未达到年龄要求，须监护人陪同办理。",
  OCR_FIELD_UNREADABLE: "证件上有字段无法识别。", QUOTA_EXCEEDED: "该证件在本运营商名下的号码已达上限。",
  NATIONWIDE_QUOTA_EXCEEDED: "该证件全国名下号码已达上限。", TOO_FREQUENT: "该证件近期办理过于频繁。",
  BLOCKLISTED: "该证件或号码在限制名单中。", CONSENT_MISSING: "客户未同意人脸信息处理。",
  DUPLICATE_FACE_OTHER_ID: "同一人脸已登记在其他证件名下，须主管复核。", REVIEW_BAND: "比对分数处于人工复核区间。",
  REVIEW_APPROVED: "主管复核通过。", REVIEW_REJECTED: "主管复核拒绝。", RETRY: "采集不足以判定，请重试。",
  PHONE_NUMBER_TAKEN: "该号码已被使用。", PHONE_NUMBER_INVALID: "号码无效。", REGISTRATION_STATE: "当前状态不允许此操作。",
  NOT_FOUND: "未找到。", NOT_AUTHENTICATED: "请登录。", FORBIDDEN: "您的角色无权进行此操作。",
  RATE_LIMITED: "请求过于频繁。", API_KEY_INVALID: "密钥无效。", AUDIT_CHAIN_BROKEN: "审计日志被篡改。",
  KEY_MISSING: "缺少加密密钥。", INTERNAL_ERROR: "系统内部错误，已记录。",
  PORTRAIT_UNAVAILABLE: "无法解码芯片中的照片（未配置 WLT 解码器）：请使用证件照片。", CARD_NOT_FOUND: "读卡器上没有身份证。",
  CARD_READ_FAILED: "未能完整读取身份证：请将证件平放在读卡器上不要移动，再试一次。", READER_UNAVAILABLE: "读卡器无响应：请检查连接线和端口。",
  CAPTURE_OUT_OF_ORDER: "采集帧顺序不符，请按顺序发送。", NOT_READY: "服务尚未就绪，请稍后重试。",
  SPOOF_NO_LIGHT_RESPONSE: "人脸没有反射屏幕闪烁的颜色（疑似录像或注入的视频）。",
  LIGHT_CHALLENGE_INCOMPLETE: "颜色闪烁未被完整采集：屏幕闪烁时请保持脸部在框内。",
  LIGHT_CHALLENGE_WAIVED: "未进行颜色闪烁核验（客户对闪光敏感），须主管复核确认。",
  STREAM_DISCONTINUITY: "视频画面出现了实时摄像头不可能出现的跳变（疑似剪辑）。",
};

let LANG = localStorage.getItem("simkyc.lang") || "zh";

function t(key, vars) {
  let s = (STRINGS[LANG] && STRINGS[LANG][key]) || STRINGS.zh[key] || key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replace("{" + k + "}", String(v));
  return s;
}

/* A reason code in the page language; English comes from the server's message when we have one. */
function reasonText(code, serverMessage) {
  if (LANG === "zh" && REASONS_ZH[code]) return REASONS_ZH[code];
  return serverMessage || code;
}

function applyI18n(root) {
  document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
  (root || document).querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  (root || document).querySelectorAll("[data-i18n-html]").forEach((el) => { el.innerHTML = t(el.dataset.i18nHtml); });
  const btn = document.getElementById("lang");
  if (btn) btn.textContent = LANG === "zh" ? "English" : "中文";
}

function toggleLang() {
  LANG = LANG === "zh" ? "en" : "zh";
  localStorage.setItem("simkyc.lang", LANG);
  applyI18n();
  document.dispatchEvent(new Event("langchange"));
}
