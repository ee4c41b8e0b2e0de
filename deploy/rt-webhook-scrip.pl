# Request Tracker scrip: tells deskroute a ticket changed, in deskroute's shared-secret form.
# Admin > Global > Scrips > Create: Condition "On Transaction", Action "User Defined", Template "Blank";
# paste this as the "Custom action commit code" and "return 1;" as the preparation code. Put the secret in
# RT_SiteConfig.pm: Set($DeskrouteWebhookSecret, '...'); and the service's address: Set($DeskrouteWebhookURL,
# 'https://deskroute.example.com/webhooks/rt');  (the connector's name in deskroute.toml ends the URL).
use HTTP::Tiny;

my $ticket = $self->TicketObj;
my $transaction = $self->TransactionObj;
my $user = $transaction->CreatorObj->Name;
# deskroute's own writes need no hint: it recognises them when it pulls them back anyway.
return 1 if $user eq (RT->Config->Get('DeskrouteUser') // 'deskroute');

my $response = HTTP::Tiny->new(timeout => 5)->post(
    RT->Config->Get('DeskrouteWebhookURL'),
    {
        headers => {
            'Content-Type'          => 'application/json',
            'X-Deskroute-Secret'    => RT->Config->Get('DeskrouteWebhookSecret'),
            # One id per transaction: the same transaction announced twice is stored once (answered 200).
            'X-Deskroute-Delivery'  => 'rt-transaction-' . $transaction->Id,
            'X-Deskroute-Timestamp' => time(),
        },
        content => '{"ticket_id": "' . $ticket->Id . '"}',
    },
);
RT->Logger->warning("deskroute webhook for ticket " . $ticket->Id . ": $response->{status}")
    unless $response->{success};
return 1;
