-- The Prosody side of a self-hosted Jitsi, as the orchestrator needs it. Merge these lines into
-- the Jitsi domain's configuration (/etc/prosody/conf.avail/meet.example.org.cfg.lua): the
-- options go into the sections of the same name that the Jitsi installation wrote, and the
-- modules are added to the lists already there (a second modules_enabled replaces the first:
-- do not include this file as it stands). The event_sync component is new: add it whole.
-- Each value that must agree with the orchestrator names its setting ([section] key of
-- /etc/orchestrator/orchestrator.toml, or its ORCH_ variable for the secrets). docs/deploy.md
-- walks through it; restart Prosody afterwards (systemctl restart prosody).
-- Debian bookworm: Prosody runs on Lua 5.4, lua-basexx is packaged for 5.1-5.3 only, and token
-- auth fails with "module 'basexx' not found" until prosody.service.d/lua-path.conf is installed.

-- Global options: before the first VirtualHost or Component line of the file.
-- Prosody's HTTP server (mod_muc_size answers here) takes requests for host names it does not
-- serve, such as 127.0.0.1, as meant for the Jitsi domain; without it the presence polls of
-- [jitsi] muc_size_url = "http://127.0.0.1:5280" get "404 Unknown host".
http_default_host = "meet.example.org"                  -- [jitsi] domain
http_ports = { 5280 }                                   -- [jitsi] muc_size_url (its port)
http_interfaces = { "127.0.0.1" }                       -- [jitsi] muc_size_url (its host)

VirtualHost "meet.example.org"                          -- [jitsi] domain
    authentication = "token"
    app_id = "orchestrator"                             -- [jitsi] app_id
    app_secret = "@JITSI_APP_SECRET@"                   -- ORCH_JITSI__APP_SECRET
    allow_empty_token = false
    -- Left out, any audience is accepted; set, it must list [jitsi] audience (or app_id).
    -- asap_accepted_audiences = { "orchestrator" }
    modules_enabled = {
        -- ... the modules the Jitsi installation lists ...
        "presence_identity";
        "muc_size";
        "reservations";
    }
    -- Prosody posts to <prefix>/conference before a room opens, and calls DELETE on
    -- <prefix>/conference/{id} when it is destroyed.
    reservations_api_prefix = "https://hop.example.org/hooks/jitsi/reservations" -- [server] base_url + /hooks/jitsi/reservations
    reservations_api_headers = {
        ["Authorization"] = "Bearer @JITSI_RESERVATIONS_TOKEN@";  -- ORCH_JITSI__RESERVATIONS_TOKEN
    }
    -- Whether mod_muc_size asks the polls for a room token; the orchestrator sends one only then.
    enable_roomsize_token_verification = false  -- [jitsi] muc_size_token

Component "conference.meet.example.org" "muc"           -- conference.<[jitsi] domain>
    modules_enabled = {
        -- ... the modules the Jitsi installation lists ...
        "token_verification";
        "token_affiliation";
    }

-- jitsi-contrib's prosody-plugins, folder event_sync (mod_event_sync_component.lua in a folder
-- of plugin_paths). It posts to <api_prefix>/events/room/created, .../room/destroyed,
-- .../occupant/joined and .../occupant/left.
Component "event_sync.meet.example.org" "event_sync_component"
    muc_component = "conference.meet.example.org"       -- conference.<[jitsi] domain>
    -- breakout_component = "breakout.meet.example.org"  -- when breakout rooms are enabled
    api_prefix = "https://hop.example.org/hooks/jitsi"  -- [server] base_url + /hooks/jitsi
    api_headers = {
        ["Authorization"] = "Bearer @JITSI_EVENTS_TOKEN@";  -- ORCH_JITSI__EVENTS_TOKEN
    }
