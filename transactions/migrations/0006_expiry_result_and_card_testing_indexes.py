"""Card testing across cards: the expiry check recorded (a wrong expiry counts like a wrong
CVV), and the merchant and BIN window indexes cover it and the card (distinct cards
failing a check, unknown numbers)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('transactions', '0005_covering_window_indexes'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='transaction',
            name='transaction_merchan_6822ba_idx',
        ),
        migrations.RemoveIndex(
            model_name='transaction',
            name='transaction_bin_pre_0d27af_idx',
        ),
        migrations.AddField(
            model_name='transaction',
            name='expiry_result',
            field=models.CharField(choices=[('match', 'Match'), ('mismatch', 'Mismatch'), ('unchecked', 'Not checked')], default='unchecked', help_text="The expiry date given against the card's, checked on an active card only.", max_length=16),
        ),
        migrations.AddIndex(
            model_name='transaction',
            index=models.Index(fields=['merchant_id', 'transaction_time', 'status', 'cvv_result', 'expiry_result', 'card'], name='transaction_merchan_d60a1e_idx'),
        ),
        migrations.AddIndex(
            model_name='transaction',
            index=models.Index(fields=['bin_prefix', 'transaction_time', 'status', 'cvv_result', 'expiry_result', 'card'], name='transaction_bin_pre_3b345b_idx'),
        ),
    ]
