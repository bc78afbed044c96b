//! The console in a real browser (headless Chromium through chromedriver): Gideon logs in,
//! switches AI answers off and on, teaches the FAQ a new answer, and a customer's question sent
//! through the relay gets it and shows in his conversations. Every page is photographed into
//! target/console-screenshots/ for people to look at.
mod common;

use common::*;
use fantoccini::{Client, ClientBuilder, Locator};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Browser {
    driver: Child,
    client: Client,
    base: String,
    shots: std::path::PathBuf,
    /// A phone's screen (the page shows its "Menu" button instead of the row of pages).
    phone: bool,
}

impl Browser {
    async fn start(base: &str, profile: &std::path::Path) -> Browser {
        Browser::sized(base, profile, (1280, 1000)).await
    }

    /// A browser whose window is `width` × `height` CSS pixels (390 × 844: a phone).
    async fn sized(base: &str, profile: &std::path::Path, (width, height): (u32, u32)) -> Browser {
        // Port 0: chromedriver picks a free port and says which, so no other test's server
        // can be on it (a port chosen here could be taken before chromedriver binds it).
        let mut driver = Command::new("chromedriver")
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (scripts/setup.sh installs chromium-driver)");
        let mut said = std::io::BufReader::new(driver.stdout.take().unwrap());
        let port: u16 = loop {
            let mut line = String::new();
            let read = std::io::BufRead::read_line(&mut said, &mut line).unwrap();
            assert!(read > 0, "chromedriver exited before it said its port");
            if let Some(port) = line
                .trim()
                .strip_prefix("ChromeDriver was started successfully on port ")
            {
                break port.trim_end_matches('.').parse().unwrap();
            }
        };
        // What it says later is read and dropped, so that it never waits on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut said, &mut std::io::sink()));
        let mut options = serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     format!("--window-size={width},{height}"), format!("--user-data-dir={}", profile.display())]
        });
        // A window is at least 500 px wide: a phone's screen is emulated instead.
        if width < 500 {
            options["mobileEmulation"] = serde_json::json!({
                "deviceMetrics": {"width": width, "height": height, "pixelRatio": 2, "mobile": true, "touch": true}
            });
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::native()
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a browser session");
        let shots = alphadome_e2e::repo_root().join("target/console-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            driver,
            client,
            base: base.to_string(),
            shots,
            phone: width < 500,
        }
    }

    async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no {css}"));
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no {css}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    async fn page(&self) -> String {
        self.client.source().await.unwrap()
    }

    async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_string()
    }

    /// Waits for the page to show `text` (after a click's navigation).
    async fn shows(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.page().await.contains(text) {
            assert!(
                Instant::now() < deadline,
                "the page does not show {text:?}: {}",
                self.page().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the browser to arrive at `path` (a click's navigation takes its time).
    async fn arrives_at(&self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.path().await != path {
            assert!(
                Instant::now() < deadline,
                "still at {}, not {path}: {}",
                self.path().await,
                self.page().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    async fn login(&self, email: &str) {
        self.open("/login").await;
        self.fill("input[name=email]", email).await;
        self.fill("input[name=password]", PASSWORD).await;
        self.click("button[type=submit]").await;
    }

    /// Logs out as a person would: on a phone through the menu.
    async fn log_out(&self) {
        if self.phone {
            self.click("details.menu summary").await;
            self.click("details.menu form.logout button").await;
        } else {
            self.click("div.wide form.logout button").await;
        }
        self.arrives_at("/login").await;
    }

    async fn close(mut self) {
        self.client.close().await.unwrap();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

const ANSWER: &str = "Yes: soprano and concert ukuleles from KES 6,500.";

#[test]
fn gideon_runs_his_bot_from_a_browser_and_a_customer_gets_his_new_answer() {
    let shop = Shop::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let profile = shop.cluster.dir.join("chromium-profile");
    let browser = runtime.block_on(Browser::start(&shop.url, &profile));
    let ai_on = || -> bool {
        shop.db()
            .query_one("SELECT enable_ai_responses FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1::text::uuid", &[&shop.kassangas])
            .unwrap()
            .get(0)
    };

    runtime.block_on(async {
        browser.login(OWNER).await;
        browser.arrives_at("/").await;
        assert!(browser.page().await.contains("Kassangas Music Shop"));
        browser.shot("01-overview").await;
        browser.click("#switch-ai").await;
        browser
            .shows("what the FAQ does not answer gets your no-answer reply (Settings)")
            .await;
    });
    assert!(!ai_on(), "AI answers switched off from the browser");
    runtime.block_on(async {
        assert!(browser
            .page()
            .await
            .contains("what the FAQ does not answer gets your no-answer reply (Settings)"));
        browser.click("#switch-ai").await;
        // The click only starts the POST: wait for the page it answers with.
        browser.shows("<strong>The AI</strong> is <strong class=\"state on\">on</strong>: it answers what the FAQ does not.").await;
    });
    assert!(ai_on(), "and on again");

    runtime.block_on(async {
        browser.open("/faq").await;
        browser.click("a[href='/faq/new']").await;
        browser.arrives_at("/faq/new").await;
        browser
            .fill("form.entry input[name=question]", "Do you sell ukuleles?")
            .await;
        browser
            .fill(
                "form.entry textarea[name=phrasings]",
                "mnauza ukulele\nukulele bei gani",
            )
            .await;
        browser
            .fill("form.entry textarea[name=answer]", ANSWER)
            .await;
        browser.click("form.entry button[type=submit]").await;
        browser.arrives_at("/faq").await;
        browser.shows(ANSWER).await;
        browser.shot("03-faq").await;
        browser.open("/faq?try=Mnauza+ukulele%3F").await;
        let tried = browser.page().await;
        assert!(
            tried.contains(ANSWER) && tried.contains("Nothing was sent"),
            "try a question"
        );
        browser.shot("04-faq-try").await;
    });

    // A customer asks in Swahili, through the relay: the new entry answers.
    shop.customer_asks("254711000777", "Mnauza ukulele?", "wamid.console.ukulele");
    shop.wait_for_reply(ANSWER);
    let deadline = Instant::now() + Duration::from_secs(20);
    while shop
        .db()
        .query_one(
            "SELECT count(*) FROM alphadome.messages WHERE direction = 'outbound' AND body = $1",
            &[&ANSWER],
        )
        .unwrap()
        .get::<_, i64>(0)
        == 0
    {
        assert!(Instant::now() < deadline, "the reply was not logged");
        std::thread::sleep(Duration::from_millis(100));
    }

    runtime.block_on(async {
        browser.open("/conversations").await;
        browser.shot("05-conversations").await;
        browser.click("ul.inbox a").await;
        // Wait for the thread's page (the click only starts the navigation).
        browser.shows("FAQ answer").await;
        let thread = browser.page().await;
        assert!(
            thread.contains("Mnauza ukulele?") && thread.contains(ANSWER),
            "the conversation shows question and answer"
        );
        assert!(thread.contains("FAQ answer"));
        browser.shot("06-conversation").await;
        for (path, name) in [
            ("/settings", "02-settings"),
            (
                "/templates?preview=Do+you+have+a+Yamaha+keyboard%3F",
                "07-templates",
            ),
            ("/alerts", "08-alerts"),
            ("/usage", "09-usage"),
            ("/replay", "10-replay"),
            ("/account", "11-account"),
        ] {
            browser.open(path).await;
            assert!(
                !browser.page().await.contains("Something went wrong"),
                "{path}"
            );
            browser.shot(name).await;
        }
        browser.log_out().await;
        browser.shot("00-login").await;
        browser.login(OPERATOR).await;
        browser.arrives_at("/operator").await;
        assert!(browser.page().await.contains("Other Shop"));
        browser.shot("12-operator-tenants").await;
        browser.open("/operator/tenants/new").await;
        browser.shot("13-operator-onboarding").await;
        browser.open("/operator/alerts").await;
        browser.shot("14-operator-alerts").await;
    });
    runtime.block_on(browser.close());
    for secret in ["EAAtest", "sk-test-", PASSWORD] {
        assert!(
            !shop.console_log().contains(secret),
            "a secret is in the console's log"
        );
    }
}

/// The shop's settings as the database has them: AI answers on, the fallback message.
fn ai_and_fallback(shop: &Shop) -> (bool, String) {
    let row = shop
        .db()
        .query_one(
            "SELECT enable_ai_responses, fallback_message FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1::text::uuid",
            &[&shop.kassangas],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

#[test]
fn a_settings_page_opened_before_a_change_elsewhere_does_not_undo_it() {
    const FALLBACK: &str = "Asante! Someone from the shop will answer you soon.";
    let shop = Shop::start();
    let (_, fallback_before) = ai_and_fallback(&shop);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let profile = shop.cluster.dir.join("chromium-laptop");
    let laptop = runtime.block_on(Browser::start(&shop.url, &profile));
    runtime.block_on(async {
        laptop.login(OWNER).await;
        laptop.arrives_at("/").await;
        laptop.open("/settings").await;
    });
    // Meanwhile, on his phone (another session), Gideon switches AI answers off.
    let phone = Visitor::new(&shop);
    assert_eq!(phone.login(OWNER, PASSWORD), 303);
    let csrf = phone.csrf();
    let (status, _) = phone.post(
        "/switch",
        &[("csrf", &csrf), ("switch", "ai"), ("on", "false")],
    );
    assert_eq!(status, 303);
    assert!(!ai_and_fallback(&shop).0);
    // The laptop's page still shows AI answers on; a change made there is saved.
    runtime.block_on(async {
        laptop
            .fill("textarea[name=fallback_message]", FALLBACK)
            .await;
        laptop
            .click("form[action='/settings'] button[type=submit]")
            .await;
        laptop.shows("This page was changed elsewhere").await;
        laptop.shot("20-settings-changed-elsewhere").await;
    });
    assert_eq!(
        ai_and_fallback(&shop),
        (false, fallback_before),
        "nothing saved from the outdated page: AI answers stay off"
    );
    // The page now shows the settings as they are: made again there, the change is saved.
    runtime.block_on(async {
        assert!(!laptop.page().await.contains(FALLBACK));
        laptop
            .fill("textarea[name=fallback_message]", FALLBACK)
            .await;
        laptop
            .click("form[action='/settings'] button[type=submit]")
            .await;
        laptop.shows("Saved.").await;
    });
    assert_eq!(ai_and_fallback(&shop), (false, FALLBACK.to_string()));
    runtime.block_on(laptop.close());
}

/// What the bot would do with a message, as the database decides it for Kassangas.
fn decision_for(shop: &Shop, message: &str) -> String {
    shop.db()
        .query_one(
            "SELECT decision FROM alphadome.try_message($1, $2::text::uuid)",
            &[&message, &shop.kassangas],
        )
        .unwrap()
        .get(0)
}

#[test]
fn on_his_phone_gideon_is_told_what_an_faq_change_does_and_can_undo_a_delete() {
    const QUESTION: &str = "How much does a guitar repair cost?";
    let shop = Shop::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let profile = shop.cluster.dir.join("chromium-phone-faq");
    let phone = runtime.block_on(Browser::sized(&shop.url, &profile, (390, 844)));
    runtime.block_on(async {
        phone.login(OWNER).await;
        phone.arrives_at("/").await;
        phone.open("/faq").await;
        // Add an entry, one of whose phrasings is already another entry's.
        phone.click("a[href='/faq/new']").await;
        phone.arrives_at("/faq/new").await;
        phone.fill("form.entry input[name=question]", QUESTION).await;
        phone.fill("form.entry textarea[name=phrasings]", "can you fix my guitar").await;
        phone.fill("form.entry textarea[name=answer]", "From KES 1,500, depending on the work.").await;
        phone.click("form.entry button[type=submit]").await;
        phone.shows("Added").await;
        let page = phone.page().await;
        assert!(
            page.contains("\u{201c}can you fix my guitar\u{201d} also matches \u{201c}Do you repair instruments?\u{201d}"),
            "the overlap is shown: {page}"
        );
        fits(&phone, "the FAQ with an overlap").await;
        phone.shot("21-phone-faq-overlap").await;
        // Those words now fit two entries about equally: the page says why the AI answers.
        phone.fill("form.try input[name=try]", "can you fix my guitar").await;
        phone.click("form.try button[type=submit]").await;
        phone.shows("The AI writes the answer, because two entries fit about equally well").await;
        phone.shot("22-phone-faq-try-why").await;
        phone.open("/faq?try=Which+bicycles+do+you+rent%3F").await;
        phone.shows("because no entry fits").await;
    });
    assert_eq!(decision_for(&shop, QUESTION), "faq");
    let id: i64 = shop
        .db()
        .query_one(
            "SELECT id FROM alphadome.bot_training_data WHERE question = $1",
            &[&QUESTION],
        )
        .unwrap()
        .get(0);
    runtime.block_on(async {
        // Delete it: asked first, then undone.
        phone.open("/faq").await;
        phone
            .click(&format!("table.entries a[href='/faq/{id}']"))
            .await;
        phone.arrives_at(&format!("/faq/{id}")).await;
        assert!(
            !phone
                .client
                .find(Locator::Css("details.confirm button.danger"))
                .await
                .unwrap()
                .is_displayed()
                .await
                .unwrap(),
            "the delete button shows only once asked for"
        );
        phone.click("details.confirm summary").await;
        phone.shot("23-phone-faq-delete-asked").await;
        phone.click("details.confirm button.danger").await;
        phone
            .shows("Deleted \u{201c}How much does a guitar repair cost?\u{201d}")
            .await;
        phone.shot("24-phone-faq-deleted-undo").await;
    });
    assert_ne!(
        decision_for(&shop, QUESTION),
        "faq",
        "deleted: the FAQ no longer answers it"
    );
    runtime.block_on(async {
        phone.click("div.notice form.undo button").await;
        phone
            .shows("Put back \u{201c}How much does a guitar repair cost?\u{201d}")
            .await;
        assert!(!phone.page().await.contains("Deleted in the last day"));
    });
    assert_eq!(
        decision_for(&shop, QUESTION),
        "faq",
        "put back: it answers again"
    );
    runtime.block_on(async {
        // A template saved says so.
        phone.open("/templates").await;
        phone.click("main details summary").await;
        phone
            .click("main details form.template button[type=submit]")
            .await;
        phone.shows("Template saved.").await;
    });
    runtime.block_on(phone.close());
}

#[test]
fn on_his_phone_gideon_reads_an_alert_in_plain_words_opens_its_customer_and_marks_it_done() {
    const CUSTOMER: &str = "254711000601";
    let shop = Shop::start();
    // Alerts go as an approved template, so this one reaches his phone.
    shop.db()
        .execute(
            "UPDATE alphadome.bot_control_settings SET alert_template_name = 'staff_alert' WHERE bot_tenant_id = $1::text::uuid",
            &[&shop.kassangas],
        )
        .unwrap();
    shop.customer_asks(
        CUSTOMER,
        "I want to talk to a person please",
        "wamid.alert.1",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let conversation: i64 = loop {
        let sent = shop
            .db()
            .query_opt(
                "SELECT conversation_id FROM alphadome.alerts WHERE status = 'sent'",
                &[],
            )
            .unwrap();
        if let Some(row) = sent {
            break row.get(0);
        }
        assert!(Instant::now() < deadline, "the alert was not sent");
        std::thread::sleep(Duration::from_millis(100));
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let profile = shop.cluster.dir.join("chromium-phone-alerts");
    let phone = runtime.block_on(Browser::sized(&shop.url, &profile, (390, 844)));
    runtime.block_on(async {
        phone.login(OWNER).await;
        phone.arrives_at("/").await;
        phone.open("/alerts").await;
        let page = phone.page().await;
        assert!(page.contains("A customer asked for a person"), "{page}");
        assert!(
            page.contains("Sent by WhatsApp (your approved template) to +254702245555."),
            "where it went: {page}"
        );
        let words = phone
            .client
            .find(Locator::Css("main"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for jargon in ["handoff", "Due", "Attempts", "whatsapp_template"] {
            assert!(
                !words.contains(jargon),
                "{jargon:?} on the alerts page: {words}"
            );
        }
        phone.shot("25-phone-alerts").await;
        phone.click("ul.alerts a.button").await;
        phone
            .arrives_at(&format!("/conversations/{conversation}"))
            .await;
        phone.shows("I want to talk to a person please").await;
        phone.open("/alerts").await;
        phone.click("ul.alerts form[action$='/done'] button").await;
        phone.arrives_at("/alerts").await;
        phone.shows("class=\"tag\"").await;
        phone.shot("26-phone-alert-done").await;
    });
    let done: bool = shop
        .db()
        .query_one("SELECT done_at IS NOT NULL FROM alphadome.alerts", &[])
        .unwrap()
        .get(0);
    assert!(done, "marked done");
    runtime.block_on(phone.close());
}

#[test]
fn on_his_phone_gideon_changes_the_hours_in_four_taps_and_the_answer_follows() {
    let shop = Shop::start();
    // The seed's hours (the harness leaves the shop always open): Monday to Saturday, 9 to 6.
    shop.db()
        .execute(
            "UPDATE alphadome.bot_control_settings SET business_hours = (SELECT jsonb_object_agg(d, '[[\"09:00\", \"18:00\"]]'::jsonb)
               FROM unnest(ARRAY['mon','tue','wed','thu','fri','sat']) d) || '{\"sun\": []}'
              WHERE bot_tenant_id = $1::text::uuid",
            &[&shop.kassangas],
        )
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let profile = shop.cluster.dir.join("chromium-phone-hours");
    let phone = runtime.block_on(Browser::sized(&shop.url, &profile, (390, 844)));
    runtime.block_on(async {
        phone.login(OWNER).await;
        phone.arrives_at("/").await;
        // Tap 1: the menu; tap 2: Hours.
        phone.click("details.menu summary").await;
        phone.click("details.menu a[href='/hours']").await;
        phone.arrives_at("/hours").await;
        fits(&phone, "the hours page").await;
        phone.shot("27-phone-hours").await;
        // Tap 3: Saturday's closing time (typed the short way); tap 4: Save, in reach where
        // his thumb is (below the holidays, it was a long scroll away).
        phone.fill("input[name=sat_to]", "13:00").await;
        in_reach(
            &phone,
            "form.hours button[type=submit]",
            "Save hours, from Saturday's box",
        )
        .await;
        phone.click("form.hours button[type=submit]").await;
        phone
            .shows("Saved: every answer that states the hours says the new ones.")
            .await;
        phone.shows("Saturday 9 AM - 1 PM").await;
        fits(&phone, "the hours page, saved").await;
        phone.shot("28-phone-hours-saved").await;
        // A mistake is named by its day and box, and nothing is saved.
        phone.fill("input[name=mon_from]", "25:00").await;
        phone.click("form.hours button[type=submit]").await;
        phone
            .shows("Monday: \"25:00\" is not a time for when it opens")
            .await;
        phone.shot("29-phone-hours-mistake").await;
    });
    let answer: String = shop
        .db()
        .query_one(
            "SELECT answer FROM alphadome.try_message('What are your opening hours?', $1::text::uuid)",
            &[&shop.kassangas],
        )
        .unwrap()
        .get(0);
    assert!(
        answer.contains("Saturday 9 AM - 1 PM"),
        "the FAQ answer follows the hours: {answer}"
    );
    runtime.block_on(phone.close());
}

/// Asserts the element is on the screen as it is scrolled now: a thumb reaches it without
/// scrolling (WebDriver's click would scroll to it, and hide the scroll a person must do).
async fn in_reach(browser: &Browser, css: &str, what: &str) {
    let found = browser
        .client
        .execute(
            "const r = document.querySelector(arguments[0]).getBoundingClientRect();
             return [r.top, r.bottom, window.innerHeight];",
            vec![serde_json::json!(css)],
        )
        .await
        .unwrap();
    let (top, bottom, window) = (
        found[0].as_f64().unwrap(),
        found[1].as_f64().unwrap(),
        found[2].as_f64().unwrap(),
    );
    assert!(
        top >= 0.0 && bottom <= window,
        "{what}: {css} is at {top:.0}..{bottom:.0} px, outside the {window:.0} px screen"
    );
}

/// Asserts a text box shows all it holds (the seed's tone, in a one-line box, was cut at
/// "answer" on a phone).
async fn shows_all(browser: &Browser, css: &str) {
    let found = browser
        .client
        .execute(
            "const e = document.querySelector(arguments[0]);
             return [e.scrollWidth <= e.clientWidth + 1 && e.scrollHeight <= e.clientHeight + 1, e.value];",
            vec![serde_json::json!(css)],
        )
        .await
        .unwrap();
    assert!(
        found[0].as_bool().unwrap(),
        "{css} hides part of {}",
        found[1]
    );
}

/// Asserts the page is no wider than the window (a phone's 390 px, a laptop's 1366): else names
/// what sticks out.
async fn fits(browser: &Browser, what: &str) {
    let found = browser
        .client
        .execute(
            "const w = window.innerWidth;
             const out = [...document.querySelectorAll('body *')]
               .filter(e => e.getBoundingClientRect().right > w + 0.5)
               .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));
             return [document.documentElement.scrollWidth, w, out.join(', ')];",
            vec![],
        )
        .await
        .unwrap();
    let (width, window) = (found[0].as_i64().unwrap(), found[1].as_i64().unwrap());
    assert!(
        width <= window,
        "{what} is {width} px wide in a {window} px window: {}",
        found[2]
    );
}

/// axe-core, vendored with its licence (console/tests/assets/axe-core/README.md).
const AXE: &str = include_str!("assets/axe-core/axe.min.js");

/// Runs axe-core on the page: fails on any serious or critical violation, naming where.
async fn accessible(browser: &Browser, what: &str) {
    let loaded = browser
        .client
        .execute(&format!("{AXE}\nreturn typeof window.axe.run;"), vec![])
        .await
        .expect("axe-core injected");
    assert_eq!(loaded, "function", "axe-core is not in the page");
    let found = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']}).then(r => done(
               r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at '
                           + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))),
               e => done(['axe-core failed: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    let problems: Vec<String> = serde_json::from_value(found).unwrap();
    assert!(problems.is_empty(), "{what}: {problems:#?}");
}

#[test]
fn every_owner_page_fits_a_phone_and_a_laptop_with_nothing_serious_for_axe() {
    // With email, so that "Forgot password" shows its form.
    let sink = alphadome_e2e::smtp::SmtpSink::start();
    let shop = Shop::start_with(&[("ALPHADOME_SMTP_URL", sink.url.as_str())]);
    // Something on every page: a customer waiting for a person (a conversation, an alert), a
    // question the FAQ answers (today's counts, the replay).
    shop.customer_asks(
        "254711000555",
        "I want to talk to a person please",
        "wamid.pages.1",
    );
    shop.customer_asks(
        "254711000556",
        "What are your opening hours?",
        "wamid.pages.2",
    );
    // And one it does not (the questions the FAQ missed).
    shop.customer_asks("254711000557", "Do you sell violin bows?", "wamid.pages.3");
    let id = |sql: &str| -> i64 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found: Option<i64> = shop.db().query_one(sql, &[&shop.kassangas]).unwrap().get(0);
            if let Some(id) = found {
                return id;
            }
            assert!(Instant::now() < deadline, "nothing for {sql}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let conversation =
        id("SELECT max(id) FROM alphadome.conversations WHERE bot_tenant_id = $1::text::uuid");
    let entry =
        id("SELECT min(id) FROM alphadome.bot_training_data WHERE bot_tenant_id = $1::text::uuid");
    let alert = id("SELECT max(id) FROM alphadome.alerts WHERE bot_tenant_id = $1::text::uuid");
    // Costs on the usage page: templates Meta charged for and AI answers with their tokens.
    let mut db = shop.db();
    db.execute(
        "INSERT INTO alphadome.messages (bot_tenant_id, conversation_id, direction, wamid, status, pricing_category)
         SELECT c.bot_tenant_id, c.id, 'outbound', 'wamid.pages.cost.' || i, 'delivered',
                CASE WHEN i % 3 = 0 THEN 'marketing' ELSE 'utility' END
           FROM alphadome.conversations c, generate_series(1, 30) i WHERE c.id = $1",
        &[&conversation],
    )
    .unwrap();
    db.execute(
        "INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload, status, result)
         SELECT c.bot_tenant_id, 'reply.generate', '{}', 'done',
                '{\"model\": \"gpt-4o-mini\", \"usage\": {\"prompt_tokens\": 2400, \"completion_tokens\": 90}}'
           FROM alphadome.conversations c, generate_series(1, 400) WHERE c.id = $1",
        &[&conversation],
    )
    .unwrap();
    // A reset link to open (as if from the email).
    let reset_token: String = db
        .query_one(
            "SELECT reset_token FROM alphadome.console_request_password_reset($1, 'browser test')",
            &[&OWNER],
        )
        .unwrap()
        .get(0);
    // A campaign not sent yet: its page shows who would receive it and what it costs.
    db.execute(
        "INSERT INTO alphadome.whatsapp_templates (bot_tenant_id, name, language, category, status, body)
         VALUES ($1::text::uuid, 'december_sale', 'en', 'MARKETING', 'APPROVED', 'Hi {{1}}, 20% off until 31 December!')",
        &[&shop.kassangas],
    )
    .unwrap();
    let campaign: i64 = db
        .query_one(
            "INSERT INTO alphadome.campaigns (bot_tenant_id, name, template_name, template_language, parameters)
             VALUES ($1::text::uuid, 'December sale', 'december_sale', 'en', '{\"{first_name}\"}') RETURNING id",
            &[&shop.kassangas],
        )
        .unwrap()
        .get(0);
    let pages = [
        ("overview", "/".to_string()),
        ("settings", "/settings".into()),
        ("hours", "/hours".into()),
        (
            "templates",
            "/templates?preview=Do+you+have+a+Yamaha+keyboard%3F".into(),
        ),
        ("faq", "/faq".into()),
        ("faq-try", "/faq?try=When+do+you+open%3F".into()),
        ("faq-entry", format!("/faq/{entry}")),
        ("faq-new", "/faq/new".into()),
        ("faq-missed", "/faq/missed".into()),
        ("conversations", "/conversations".into()),
        ("conversation", format!("/conversations/{conversation}")),
        ("alerts", "/alerts".into()),
        ("alert", format!("/alerts/{alert}")),
        ("usage", "/usage".into()),
        ("products", "/products".into()),
        ("campaigns", "/campaigns".into()),
        ("campaign", format!("/campaigns/{campaign}")),
        ("replay", "/replay".into()),
        ("account", "/account".into()),
        ("login", "/login".into()),
        ("forgot", "/forgot".into()),
        ("reset", format!("/reset?token={reset_token}")),
    ];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for (size, window) in [("phone", (390, 844)), ("laptop", (1366, 900))] {
        let profile = shop.cluster.dir.join(format!("chromium-{size}"));
        let browser = runtime.block_on(Browser::sized(&shop.url, &profile, window));
        runtime.block_on(async {
            browser.login(OWNER).await;
            browser.arrives_at("/").await;
            for (name, path) in &pages {
                browser.open(path).await;
                let page = browser.page().await;
                // The reset page's path and form hold a link's token: named, never printed.
                let shown = if *name == "reset" {
                    name.to_string()
                } else {
                    format!("{path}: {page}")
                };
                assert!(
                    page.contains("<h1>")
                        && !page.contains("Something went wrong")
                        && !page.contains("There is no such page"),
                    "{shown}"
                );
                let what = format!(
                    "{name} ({}) on a {size}",
                    if *name == "reset" { "/reset" } else { path }
                );
                fits(&browser, &what).await;
                accessible(&browser, &what).await;
                browser.shot(&format!("{size}-{name}")).await;
            }
            if browser.phone {
                // The menu, open: every page one tap away, in one column.
                browser.open("/").await;
                browser.click("details.menu summary").await;
                fits(&browser, "the open menu").await;
                accessible(&browser, "the open menu").await;
                browser.shot("phone-menu").await;
            }
        });
        runtime.block_on(browser.close());
    }
}

#[test]
fn on_his_phone_gideon_answers_a_customer_who_asked_for_a_person() {
    const CUSTOMER: &str = "254711000901";
    const REPLY: &str = "Pole sana! Bring it to the shop and we will replace it today.";
    let shop = Shop::start();
    // A customer asks for a person: one acknowledgement, then the bot is silent for him.
    shop.customer_asks(
        CUSTOMER,
        "I ordered a guitar last week and it arrived broken. I want to speak to a person please",
        "wamid.inbox.1",
    );
    shop.wait_for_reply(
        "A member of the Kassangas Music Shop team will get back to you shortly. You can also call +254702245555.",
    );
    shop.customer_asks(CUSTOMER, "Hello? Is anyone there?", "wamid.inbox.2");
    let jobs_for = |customer: &str| -> i64 {
        shop.db()
            .query_one(
                "SELECT count(*) FROM alphadome.outbox
                  WHERE kind = 'reply.send' AND payload ->> 'customer' = $1 AND NOT payload ? 'sent_by'",
                &[&customer],
            )
            .unwrap()
            .get(0)
    };
    assert_eq!(
        jobs_for(CUSTOMER),
        1,
        "the bot: one acknowledgement, nothing for 'Hello?'"
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let profile = shop.cluster.dir.join("chromium-phone");
    let phone = runtime.block_on(Browser::sized(&shop.url, &profile, (390, 844)));
    runtime.block_on(async {
        phone.login(OWNER).await;
        phone.arrives_at("/").await;
        phone.shows("1 customer waiting for a person").await;
        fits(&phone, "the overview fits the phone").await;
        phone.shot("15-phone-overview-waiting").await;
        // Tap 1: who is waiting.
        phone.click("p.waiting a").await;
        phone.shows("Waiting 1").await;
        fits(&phone, "the inbox fits the phone").await;
        phone.shot("16-phone-inbox").await;
        // Tap 2: the customer.
        phone.click("ul.inbox li.state-waiting a").await;
        phone.shows("Waiting for a person").await;
        assert!(phone.page().await.contains("Hello? Is anyone there?"));
        fits(&phone, "the conversation fits the phone").await;
        phone.shot("17-phone-conversation").await;
        phone.fill("#reply-text", REPLY).await;
        // Tap 3: send.
        phone.click("form.reply button[type=submit]").await;
        phone.shows("Sending").await;
    });
    // Meta is asked to send it to that customer, from the shop's number, with its token.
    shop.meta
        .wait_until(Duration::from_secs(30), "the person's reply", |r| {
            r.iter().any(|x| {
                x.body["text"]["body"] == REPLY
                    && x.body["to"] == CUSTOMER
                    && x.authorization.as_deref()
                        == Some(&format!("Bearer {}", alphadome_e2e::kassangas::SEED_TOKEN))
            })
        });
    let deadline = Instant::now() + Duration::from_secs(20);
    while shop
        .db()
        .query_one(
            "SELECT count(*) FROM alphadome.messages WHERE sent_by = 'person' AND body = $1 AND sent_by_account IS NOT NULL",
            &[&REPLY],
        )
        .unwrap()
        .get::<_, i64>(0)
        == 0
    {
        assert!(Instant::now() < deadline, "the person's reply was not logged");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The customer answers; the page he has open shows it by itself.
    shop.customer_asks(CUSTOMER, "Asante sana, nitakuja saa nane", "wamid.inbox.3");
    runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(40);
        while !phone
            .page()
            .await
            .contains("Asante sana, nitakuja saa nane")
        {
            assert!(Instant::now() < deadline, "the page did not refresh itself");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        phone.shot("18-phone-conversation-answered").await;
        // Done: back to the bot, which answers the customer's next question.
        phone.click("form[action$='/handback'] button").await;
        phone.shows("Given back to the bot").await;
    });
    assert_eq!(
        jobs_for(CUSTOMER),
        1,
        "the bot stayed silent while a person had him"
    );
    shop.customer_asks(CUSTOMER, "What are your opening hours?", "wamid.inbox.4");
    assert_eq!(jobs_for(CUSTOMER), 2, "the bot answers again");

    // Amina, his staff, on her phone: the inbox and a reply, and nothing else.
    shop.db()
        .execute(
            "SELECT alphadome.create_agent($1::text::uuid, 'amina@kassangas.test', $2)",
            &[&shop.kassangas, &PASSWORD],
        )
        .unwrap();
    shop.customer_asks("254711000903", "niongee na mtu please", "wamid.inbox.5");
    runtime.block_on(async {
        phone.log_out().await;
        phone.login("amina@kassangas.test").await;
        phone.arrives_at("/conversations").await;
        let inbox = phone.page().await;
        assert!(
            !inbox.contains("href=\"/settings\"") && !inbox.contains("href=\"/faq\""),
            "staff see the inbox only"
        );
        phone.click("ul.inbox li.state-waiting a").await;
        phone.shows("Waiting for a person").await;
        phone
            .fill("#reply-text", "Habari! Mimi ni Amina. Nikusaidie aje?")
            .await;
        phone.click("form.reply button[type=submit]").await;
        phone.shows("Sending").await;
        phone.shot("19-phone-staff-reply").await;
        for path in ["/settings", "/faq", "/templates"] {
            phone.open(path).await;
            phone.shows("There is no such page here.").await;
        }
    });
    shop.wait_for_reply("Habari! Mimi ni Amina. Nikusaidie aje?");
    runtime.block_on(phone.close());
}

/// Counts the taps of an owner's task on a phone: a tap on a button, a link or the menu, and a
/// tap into a box to type (the typing itself is not a tap).
struct Walk<'a> {
    phone: &'a Browser,
    taps: std::cell::Cell<u32>,
}

impl Walk<'_> {
    async fn tap(&self, css: &str) {
        self.taps.set(self.taps.get() + 1);
        self.phone.click(css).await;
    }

    async fn type_in(&self, css: &str, text: &str) {
        self.taps.set(self.taps.get() + 1);
        self.phone.fill(css, text).await;
    }

    /// Through the phone's menu to a page: two taps.
    async fn go_to(&self, path: &str) {
        self.tap("details.menu summary").await;
        self.tap(&format!("details.menu a[href='{path}']")).await;
        self.phone.arrives_at(path).await;
    }

    /// Prints the task's taps (`WALK task: n taps`), back on the overview for the next one.
    async fn done(&self, task: &str) -> u32 {
        let taps = self.taps.replace(0);
        println!("WALK {task}: {taps} taps");
        self.phone.open("/").await;
        taps
    }
}

/// The owner's walk of issue 22, on a phone, each task from the overview: change the hours, add
/// an FAQ entry, edit the personality, turn the AI off and on, read the week's messages and
/// cost, mark an alert done. Each prints its taps (`cargo test ... -- --nocapture`); each
/// has a most, so that a page made harder to use fails here.
#[test]
fn the_owners_walk_on_his_phone_counts_its_taps() {
    let shop = Shop::start();
    // The seed's hours (the harness leaves the shop always open): Monday to Saturday, 9 to 6.
    shop.db()
        .execute(
            "UPDATE alphadome.bot_control_settings SET business_hours = (SELECT jsonb_object_agg(d, '[[\"09:00\", \"18:00\"]]'::jsonb)
               FROM unnest(ARRAY['mon','tue','wed','thu','fri','sat']) d) || '{\"sun\": []}'
              WHERE bot_tenant_id = $1::text::uuid",
            &[&shop.kassangas],
        )
        .unwrap();
    // A customer who asked for a person: an alert to mark done, and messages to count.
    shop.customer_asks(
        "254711000951",
        "I want to talk to a person please",
        "wamid.walk.1",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while shop
        .db()
        .query_one("SELECT count(*) FROM alphadome.alerts", &[])
        .unwrap()
        .get::<_, i64>(0)
        == 0
    {
        assert!(Instant::now() < deadline, "no alert");
        std::thread::sleep(Duration::from_millis(100));
    }
    let settings = |column: &str| -> String {
        shop.db()
            .query_one(
                &format!("SELECT {column}::text FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1::text::uuid"),
                &[&shop.kassangas],
            )
            .unwrap()
            .get::<_, Option<String>>(0)
            .unwrap_or_default()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let profile = shop.cluster.dir.join("chromium-phone-walk");
    let phone = runtime.block_on(Browser::sized(&shop.url, &profile, (390, 844)));
    let walk = Walk {
        phone: &phone,
        taps: std::cell::Cell::new(0),
    };
    let mut taps = Vec::new();
    runtime.block_on(async {
        phone.login(OWNER).await;
        phone.arrives_at("/").await;

        walk.go_to("/hours").await;
        walk.type_in("input[name=sat_to]", "13:00").await;
        walk.tap("form.hours button[type=submit]").await;
        phone.shows("Saturday 9 AM - 1 PM").await;
        taps.push(("hours", walk.done("hours").await, 4));
    });
    assert!(settings("business_hours").contains("13:00"));
    runtime.block_on(async {
        walk.go_to("/faq").await;
        walk.tap("a[href='/faq/new']").await;
        phone.arrives_at("/faq/new").await;
        walk.type_in("form.entry input[name=question]", "Do you sell ukuleles?")
            .await;
        walk.type_in("form.entry textarea[name=answer]", ANSWER)
            .await;
        walk.tap("form.entry button[type=submit]").await;
        phone.shows("Added").await;
        taps.push(("new FAQ entry", walk.done("new FAQ entry").await, 6));
    });
    assert_eq!(decision_for(&shop, "Do you sell ukuleles?"), "faq");
    runtime.block_on(async {
        walk.go_to("/templates").await;
        // He reads what the personality says now before adding to it.
        for field in ["persona_tone", "shop_description", "current_offers"] {
            shows_all(&phone, &format!("form.personality [name={field}]")).await;
        }
        walk.type_in(
            "form.personality textarea[name=current_offers]",
            "December sale: 10% off all guitars until 31 Dec.",
        )
        .await;
        walk.tap("form.personality button[type=submit]").await;
        phone.shows("Personality saved").await;
        taps.push(("personality", walk.done("personality").await, 4));
    });
    assert_eq!(
        settings("current_offers"),
        "December sale: 10% off all guitars until 31 Dec."
    );
    runtime.block_on(async {
        walk.tap("#switch-ai").await;
        phone
            .shows("what the FAQ does not answer gets your no-answer reply (Settings)")
            .await;
        walk.tap("#switch-ai").await;
        phone.shows("it answers what the FAQ does not").await;
        taps.push(("AI off and on", walk.done("AI off and on").await, 2));
    });
    assert_eq!(settings("enable_ai_responses"), "true");
    runtime.block_on(async {
        walk.go_to("/usage").await;
        let page = phone.page().await;
        // The week's cost: the first row of "Per week"; its messages: "This week".
        assert!(page.contains("<caption>Per week, KES</caption>"), "{page}");
        assert!(
            page.contains(
                "<th>Messages from customers</th><td class=\"num\">1</td><td class=\"num\">1</td>"
            ),
            "{page}"
        );
        taps.push((
            "usage: messages and cost",
            walk.done("usage: messages and cost").await,
            2,
        ));
    });
    runtime.block_on(async {
        walk.go_to("/alerts").await;
        walk.tap("ul.alerts form[action$='/done'] button").await;
        phone.arrives_at("/alerts").await;
        phone.shows("class=\"tag\"").await;
        taps.push(("alert done", walk.done("alert done").await, 3));
    });
    let done: bool = shop
        .db()
        .query_one(
            "SELECT bool_and(done_at IS NOT NULL) FROM alphadome.alerts",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(done, "the alert is done");
    runtime.block_on(phone.close());
    for (task, taken, most) in taps {
        assert!(taken <= most, "{task}: {taken} taps, more than {most}");
    }
}

#[test]
fn on_his_phone_gideon_writes_the_december_sale_sees_who_gets_it_and_what_it_costs_and_watches_it_go(
) {
    const WABA: &str = "102290129340398";
    let shop = Shop::start();
    shop.meta
        .send_statuses(vec![shop.relay.url.clone()], APP_SECRET);
    let mut db = shop.db();
    // 40 customers: 30 agreed on the shop's paper form, 2 of them then sent STOP; 10 never agreed.
    db.execute(
        "UPDATE alphadome.bot_tenants SET whatsapp_business_account_id = $2 WHERE id = $1::text::uuid;",
        &[&shop.kassangas, &WABA],
    )
    .unwrap();
    db.execute(
        "INSERT INTO alphadome.conversations (bot_tenant_id, customer_key, wa_id, customer_name, last_inbound_at,
                                              marketing_consent_at, marketing_consent_source, opted_out_at)
         SELECT $1::text::uuid, k, k, 'Mteja ' || i, now() - make_interval(hours => i),
                CASE WHEN i <= 30 THEN now() - interval '1 day' END, 'imported: paper form',
                CASE WHEN i <= 2 THEN now() END
           FROM generate_series(1, 40) i, LATERAL (SELECT '2547130000' || lpad(i::text, 2, '0') AS k) c",
        &[&shop.kassangas],
    )
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let profile = shop.cluster.dir.join("chromium-phone-campaign");
    let phone = runtime.block_on(Browser::sized(&shop.url, &profile, (390, 844)));
    runtime.block_on(async {
        phone.login(OWNER).await;
        phone.arrives_at("/").await;
        phone.open("/campaigns").await;
        phone.shows("New template").await;
        // The template, written on the phone and sent to Meta for review.
        phone.click("#new-template summary").await;
        phone.shows("id=\"new-template\" open").await;
        phone
            .fill(
                "form[action='/campaigns/templates'] input[name=name]",
                "december_sale",
            )
            .await;
        phone
            .fill(
                "form[action='/campaigns/templates'] textarea[name=body]",
                "Hi {{1}}, everything at Kassangas is 20% off until 31 December!",
            )
            .await;
        phone
            .fill(
                "form[action='/campaigns/templates'] input[name=e1]",
                "Wanjiru",
            )
            .await;
        phone
            .click("form[action='/campaigns/templates'] button[type=submit]")
            .await;
        phone.shows("waiting for Meta").await;
        fits(&phone, "the campaigns page").await;
        accessible(&phone, "the campaigns page").await;
        phone.shot("30-phone-template-pending").await;
    });
    // Meta approves it: its status webhook through the relay.
    let deadline = Instant::now() + Duration::from_secs(20);
    while shop
        .meta
        .requests()
        .iter()
        .all(|r| !r.path.ends_with("/message_templates"))
    {
        assert!(Instant::now() < deadline, "the template was not submitted");
        std::thread::sleep(Duration::from_millis(50));
    }
    let approval = serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": WABA, "time": 1764547200,
        "changes": [{"field": "message_template_status_update", "value": {
            "event": "APPROVED", "message_template_id": 900000, "message_template_name": "december_sale",
            "message_template_language": "en", "reason": "NONE"}}]}]})
    .to_string();
    let signature =
        alphadome_relay::http::signature::sign(APP_SECRET.as_bytes(), approval.as_bytes());
    assert_eq!(
        shop.relay
            .post("/webhook", approval.as_bytes(), Some(&signature))
            .0,
        200
    );
    runtime.block_on(async {
        phone.open("/campaigns").await;
        phone.shows("approved").await;
        // With an approved template and no campaign yet, the form is open.
        phone.shows("id=\"new-campaign\" open").await;
        phone
            .fill(
                "form[action='/campaigns'] input[name=name]",
                "December sale",
            )
            .await;
        phone
            .fill("form[action='/campaigns'] input[name=p1]", "{first_name}")
            .await;
        phone
            .click("form[action='/campaigns'] button[type=submit]")
            .await;
        // Who receives it, who not and why, and the cost: 28 marketing messages to Kenya at
        // USD 0.0225, KES 129.25 to the dollar.
        phone.shows("Will receive it").await;
        let page = phone.page().await;
        for shown in [
            "Will receive it</dt><dd class=\"big\">28</dd>",
            "never agreed to offers</dt><dd>10</dd>",
            "sent STOP</dt><dd>2</dd>",
            "KES 81.43",
            "Send to 28 customers",
        ] {
            assert!(page.contains(shown), "{shown:?} not on the page: {page}");
        }
        fits(&phone, "the campaign's preview").await;
        accessible(&phone, "the campaign's preview").await;
        phone.shot("31-phone-campaign-preview").await;
        phone.click("main form button[type=submit]").await;
        phone.shows("Status: <strong>").await;
        // The page follows it until it is sent.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            phone.client.refresh().await.unwrap();
            if phone.page().await.contains("Status: <strong>sent") {
                break;
            }
            assert!(Instant::now() < deadline, "{}", phone.page().await);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let page = phone.page().await;
        assert!(
            page.contains("<th>Sent</th><td class=\"num\">28</td>"),
            "{page}"
        );
        fits(&phone, "the campaign's results").await;
        accessible(&phone, "the campaign's results").await;
        phone.shot("32-phone-campaign-sent").await;
    });
    let templates = shop
        .meta
        .sends()
        .iter()
        .filter(|s| s.body["type"] == "template")
        .count();
    assert_eq!(templates, 28);
    runtime.block_on(phone.close());
}

#[test]
fn on_his_phone_gideon_turns_a_missed_question_into_a_phrasing_in_one_tap_and_the_faq_answers_it() {
    // Answered by an entry whose phrasings lack these words.
    const QUESTION: &str = "Is the paybill still the same one?";
    let shop = Shop::start();
    // A customer asks what the FAQ does not recognise: the AI answers.
    shop.customer_asks("254711000701", QUESTION, "wamid.learn.1");
    shop.wait_for_reply("Our violins start at KES 15,000.");
    assert_eq!(decision_for(&shop, QUESTION), "llm");
    // The entry that fits it best.
    let closest: String = shop
        .db()
        .query_one(
            "SELECT closest_question FROM alphadome.faq_unanswered(tenant_id => $1::text::uuid)",
            &[&shop.kassangas],
        )
        .unwrap()
        .get(0);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let profile = shop.cluster.dir.join("chromium-phone-learn");
    let phone = runtime.block_on(Browser::sized(&shop.url, &profile, (390, 844)));
    runtime.block_on(async {
        phone.login(OWNER).await;
        phone.arrives_at("/").await;
        phone.open("/faq").await;
        phone.click("a[href='/faq/missed']").await;
        phone.arrives_at("/faq/missed").await;
        phone.shows("asked once").await;
        let page = phone.page().await;
        assert!(page.contains(QUESTION), "{page}");
        assert!(
            page.contains(&format!("It seems to belong to \u{201c}{closest}\u{201d}")),
            "{page}"
        );
        fits(&phone, "the questions the FAQ missed").await;
        phone.shot("25-phone-faq-missed").await;
        // The one tap.
        phone
            .click("ul.missed li form[action='/faq/missed/add'] button")
            .await;
        phone.shows("The FAQ answers it now.").await;
        let page = phone.page().await;
        assert!(
            page.contains(&format!("as a way of asking \u{201c}{closest}\u{201d}")),
            "{page}"
        );
        fits(&phone, "a missed question added").await;
        phone.shot("26-phone-faq-missed-added").await;
    });
    assert_eq!(decision_for(&shop, QUESTION), "faq");
    // What the FAQ answers with: the entry's answer, as sent.
    let answer: String = shop
        .db()
        .query_one(
            "SELECT t.answer FROM alphadome.try_message($1, $2::text::uuid) t",
            &[&QUESTION, &shop.kassangas],
        )
        .unwrap()
        .get(0);
    // The same question from another customer, through the relay: the FAQ answers it.
    shop.customer_asks("254711000702", QUESTION, "wamid.learn.2");
    let decided = || -> Option<String> {
        shop.db()
            .query_one(
                "SELECT (SELECT decision::text FROM alphadome.messages WHERE wamid = 'wamid.learn.2')",
                &[],
            )
            .unwrap()
            .get(0)
    };
    shop.wait_for_reply(&answer);
    assert_eq!(decided().as_deref(), Some("faq"));
    runtime.block_on(phone.close());
}
